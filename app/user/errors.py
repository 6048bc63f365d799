from app.errors import Conflict, NotFound, UnprocessableEntity


class UserNotFound(NotFound):
    code = "user.not_found"
    title = "User not found"


class UsernameTaken(Conflict):
    code = "user.username_taken"
    title = "Another user or client already has this username"


class UserReferenceNotFound(UnprocessableEntity):
    code = "user.reference_not_found"
    title = "The user's org unit or cadre does not exist"


class CadreAlreadyLinked(Conflict):
    code = "user.cadre_already_linked"
    title = "Another user is already linked to this cadre"
