from app.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from app.i18n import N_


class OrgUnitNotFound(NotFound):
    code = "org_unit.not_found"
    title = N_("Org unit not found")


class OrgUnitCodeTaken(Conflict):
    code = "org_unit.code_taken"
    title = N_("Another org unit already has this code")


class ParentNotFound(UnprocessableEntity):
    code = "org_unit.parent_not_found"
    title = N_("The parent org unit does not exist")


class OrgUnitCycle(Conflict):
    code = "org_unit.cycle"
    title = N_("An org unit cannot be moved under itself or its own descendants")


class ReferencedOrgUnitNotFound(UnprocessableEntity):
    code = "org_unit.reference_not_found"
    title = N_("The referenced org unit does not exist")


class RootNotAllowed(Forbidden):
    code = "org_unit.root_not_allowed"
    title = N_("Only whole-tree roles may create or move units at the root")


class OwnUnitImmovable(Forbidden):
    code = "org_unit.own_unit_immovable"
    title = N_("An org admin cannot move the unit it administers")
