"""Credit policies (学时学分办法) and the pure credit-hour and compliance engine (docs/rules.md).

`policy` holds the effective-dated rule sets as plain data; `engine` turns study logs into
credit hours and requirement statuses without any I/O.
"""
