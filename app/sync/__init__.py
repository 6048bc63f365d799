"""Master-data sync from the provincial HR system: bulk, idempotent, row by row.

A flow package, with no table of its own: `cadres.py` and `org_units.py` are the two flows
(`snapshot.py` what their snapshots share). They read through the cadre and org-unit
repositories and write only through those domains' service and bulk functions."""
