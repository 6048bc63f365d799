"""Export jobs: a unit's year archive written by a worker into PostgreSQL, served resumable."""
