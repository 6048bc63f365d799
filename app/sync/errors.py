from app.errors import Conflict, NotFound


class SnapshotTooDestructive(Conflict):
    code = "sync.snapshot_guard"
    title = "The snapshot would deactivate too large a share of a unit; check it, or force it"


class SnapshotScopeNotFound(NotFound):
    code = "sync.snapshot_scope_not_found"
    title = "The org unit named by snapshot_of does not exist"
