from app.errors import NotFound
from app.i18n import N_


class CertificateNotFound(NotFound):
    code = "certificate.not_found"
    title = N_("Certificate not found")
