"""Bulk import of historical study logs (JSON or CSV), checked row by row, loaded by COPY."""
