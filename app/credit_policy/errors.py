from app.errors import Conflict
from app.i18n import N_


class PolicyCodeTaken(Conflict):
    code = "credit_policy.code_taken"
    title = N_("Another credit policy already has this code")


class PolicyOverlap(Conflict):
    code = "credit_policy.overlap"
    title = N_("The policy's effective range overlaps another's: one policy must be in force a day")


class NoPolicyForDate(Conflict):
    code = "credit_policy.none_in_force"
    title = N_("No single credit policy is in force on a date the computation needs")
