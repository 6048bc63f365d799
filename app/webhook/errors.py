"""webhook domain."""

from app.errors import NotFound, UnprocessableEntity


class WebhookNotFound(NotFound):
    code = "webhook.not_found"
    title = "Webhook subscription not found"


class WebhookUrlNotAllowed(UnprocessableEntity):
    code = "webhook.url_not_allowed"
    title = "This deployment does not deliver to that URL"
