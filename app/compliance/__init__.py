"""Credit hours and compliance of cadres, and the reports built on them (docs/rules.md)."""
