from app.errors import Conflict, Forbidden, NotFound
from app.i18n import N_


class QualificationTypeNotFound(NotFound):
    code = "qualification.type_not_found"
    title = N_("Qualification type not found")


class QualificationNotFound(NotFound):
    code = "qualification.not_found"
    title = N_("Qualification not found")


class QualificationTypeExists(Conflict):
    code = "qualification.type_exists"
    title = N_("The unit has a qualification type of that name already")


class QualificationExists(Conflict):
    code = "qualification.exists"
    title = N_("The cadre holds that qualification from that day already")


class AlreadyRevoked(Conflict):
    code = "qualification.already_revoked"
    title = N_("The qualification is revoked already")


class NotQualificationManager(Forbidden):
    code = "qualification.not_manager"
    title = N_("Only admins, and org_admins within their subtree, manage qualifications")
