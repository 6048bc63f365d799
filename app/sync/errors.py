from app.errors import Conflict, NotFound
from app.i18n import N_


class SnapshotTooDestructive(Conflict):
    code = "sync.snapshot_guard"
    title = N_("The snapshot would deactivate too large a share of a unit; check it, or force it")


class SnapshotScopeNotFound(NotFound):
    code = "sync.snapshot_scope_not_found"
    title = N_("The org unit named by snapshot_of does not exist")
