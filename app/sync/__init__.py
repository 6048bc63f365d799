"""Master-data sync from the provincial HR system: bulk, idempotent, row by row."""
