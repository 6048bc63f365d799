from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity


class CadreNotFound(NotFound):
    code = "cadre.not_found"
    title = "Cadre not found"


class HrIdTaken(Conflict):
    code = "cadre.hr_id_taken"
    title = "Another cadre already has this HR id"


class IdNumberTaken(Conflict):
    code = "cadre.id_number_taken"
    title = "Another cadre already has this resident ID number"


# The cadre table's unique constraints, by name: the error a write that lost a race raises.
CONFLICTS = {"uq_cadre_hr_id": HrIdTaken(), "uq_cadre_id_number_hash": IdNumberTaken()}


class CadreOrgUnitNotFound(UnprocessableEntity):
    code = "cadre.org_unit_not_found"
    title = "The cadre's org unit does not exist"


class ReferencedCadreNotFound(UnprocessableEntity):
    code = "cadre.reference_not_found"
    title = "The referenced cadre does not exist"


class IdNumberSearchForbidden(Forbidden):
    code = "cadre.id_number_search_forbidden"
    title = "Only the roles that see resident ID numbers whole may search by them"
