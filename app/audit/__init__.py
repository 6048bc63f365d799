"""The audit trail: who did what, when, from which request.

Written by the database (the audit trigger of every audited table, migration 0013), read here.
It has no errors of its own (no errors.py): a read with bad filters is a validation error."""
