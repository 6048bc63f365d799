from app.errors import Conflict


class PolicyCodeTaken(Conflict):
    code = "credit_policy.code_taken"
    title = "Another credit policy already has this code"


class PolicyOverlap(Conflict):
    code = "credit_policy.overlap"
    title = "The policy's effective range overlaps another's: one policy must be in force a day"


class NoPolicyForDate(Conflict):
    code = "credit_policy.none_in_force"
    title = "No single credit policy is in force on a date the computation needs"
