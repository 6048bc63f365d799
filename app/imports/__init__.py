"""Bulk import of historical study logs (JSON or CSV), checked row by row, loaded by COPY.

A flow package, with no table of its own: it reads cadres through the cadre repository and
writes study logs only through `app.study_log.bulk`."""
