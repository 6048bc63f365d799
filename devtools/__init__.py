"""Developer tooling: local PostgreSQL clusters (localpg) and the `make run` launcher."""
