from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class CadreNotFound(NotFound):
    code = "cadre.not_found"
    title = N_("Cadre not found")


class HrIdTaken(Conflict):
    code = "cadre.hr_id_taken"
    title = N_("Another cadre already has this HR id")


class IdNumberTaken(Conflict):
    code = "cadre.id_number_taken"
    title = N_("Another cadre already has this resident ID number")


class CadreNotRegistrable(Conflict):
    """A clash with a cadre outside the caller's scope: one answer, naming neither the field nor
    the cadre, so that HR ids and ID numbers of other units cannot be probed field by field."""

    code = "cadre.not_registrable"
    title = N_("A cadre outside your org subtree holds this HR id or resident ID number")


# The cadre table's unique constraints, by name: the error a write that lost a race raises.
CONFLICTS = {"uq_cadre_hr_id": HrIdTaken(), "uq_cadre_id_number_hash": IdNumberTaken()}


class CadreOrgUnitNotFound(UnprocessableEntity):
    code = "cadre.org_unit_not_found"
    title = N_("The cadre's org unit does not exist")


class ReferencedCadreNotFound(UnprocessableEntity):
    code = "cadre.reference_not_found"
    title = N_("The referenced cadre does not exist")


class PostTypeRequired(UnprocessableEntity):
    code = "cadre.post_type_required"
    title = N_(
        "The rank rises into or within the leading ranks and the cadre's post type was never "
        "stated: name post_type (leading for a post, non_leading for a grade)"
    )


class IdNumberSearchForbidden(Forbidden):
    code = "cadre.id_number_search_forbidden"
    title = N_("Only the roles that see resident ID numbers whole may search by them")
