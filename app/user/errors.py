from app.errors import (
    BadRequest,
    Conflict,
    NotFound,
    RuleViolation,
    Unauthorized,
    UnprocessableEntity,
)
from app.i18n import N_


class UserNotFound(NotFound):
    code = "user.not_found"
    title = N_("User not found")


class UsernameTaken(Conflict):
    code = "user.username_taken"
    title = N_("Another user or client already has this username")


class UserReferenceNotFound(UnprocessableEntity):
    code = "user.reference_not_found"
    title = N_("The user's org unit or cadre does not exist")


class UserBindingMismatch(RuleViolation):
    """A change the stored role does not take (a unit for an auditor): a rule on the record
    as it stands, a 409. A body that contradicts itself (a new role with the wrong binding)
    is refused by the schema, a 422."""

    code = "user.binding_mismatch"
    title = N_("An org_admin names its unit and a cadre user its cadre; no other role names either")


class CadreAlreadyLinked(Conflict):
    code = "user.cadre_already_linked"
    title = N_("Another user is already linked to this cadre")


class InvalidCredentials(Unauthorized):
    code = "auth.invalid_credentials"
    title = N_("Unknown user, wrong password, or the account is locked or inactive")


class UnsupportedGrant(BadRequest):
    code = "auth.unsupported_grant"
    title = N_("Use the password grant for people and client_credentials for machine clients")


class ExternalIdentityTaken(Conflict):
    code = "user.external_identity_taken"
    title = N_("Another user is already linked to this external identity")


class InvalidGrant(BadRequest):
    """RFC 6749 §5.2 `invalid_grant`: the refresh token is unknown, expired, used or revoked,
    or its user was deactivated or changed password, role or binding since."""

    code = "auth.invalid_grant"
    title = N_("The refresh token is invalid, expired or revoked")
