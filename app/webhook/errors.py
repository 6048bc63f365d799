"""webhook domain."""

from app.errors import NotFound, UnprocessableEntity
from app.i18n import N_


class WebhookNotFound(NotFound):
    code = "webhook.not_found"
    title = N_("Webhook subscription not found")


class WebhookUrlNotAllowed(UnprocessableEntity):
    code = "webhook.url_not_allowed"
    title = N_("This deployment does not deliver to that URL")
