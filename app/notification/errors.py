from app.errors import NotFound
from app.i18n import N_


class NotificationNotFound(NotFound):
    code = "notification.not_found"
    title = N_("Notification not found")
