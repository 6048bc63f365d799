from app.errors import NotFound, UnprocessableEntity
from app.i18n import N_


class UnitTargetNotFound(NotFound):
    code = "scorecard.target_not_found"
    title = N_("The unit has no scorecard target for that year")


class NoWeight(UnprocessableEntity):
    code = "scorecard.no_weight"
    title = N_("At least one indicator needs a weight above 0")
