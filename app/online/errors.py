from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class PlatformNotFound(NotFound):
    code = "online.platform_not_found"
    title = N_("Online platform not found")


class PlatformCodeTaken(Conflict):
    code = "online.platform_code_taken"
    title = N_("Another online platform has this code")


class PlatformInactive(Conflict):
    code = "online.platform_inactive"
    title = N_("The online platform is deactivated: its records are no longer imported")


class ReferencedCadreNotFound(UnprocessableEntity):
    code = "online.cadre_reference_not_found"
    title = N_("The referenced cadre does not exist or is outside your units")


class NotLearnerManager(Forbidden):
    code = "online.not_learner_manager"
    title = N_("The learner is matched to a cadre outside your units")


class LearnerMatchedByIdNumber(Conflict):
    code = "online.learner_matched_by_id_number"
    title = N_(
        "The learner account was matched by its ID number: only an admin may match it to "
        "another cadre"
    )
