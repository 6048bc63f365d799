"""Who is acting: a value type every layer may import (it imports nothing of the domains).

`app.security` turns a bearer token into an `Actor`; repositories build their scope statements
from it; the audit trail records it."""

import uuid
from dataclasses import dataclass

from app.enums import Role

# Roles that see every org unit; the others are limited to a subtree or to their own records.
WHOLE_TREE = frozenset({Role.admin, Role.hr_system, Role.auditor})
# Roles that see resident ID numbers whole (everyone else gets them masked).
SEES_ID_NUMBERS = frozenset({Role.admin, Role.hr_system})


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID
    username: str
    role: Role
    # org_admin: the unit it administers, with its materialised path (its subtree).
    # cadre: its own cadre record and that cadre's unit path (own unit and its ancestors).
    org_unit_id: uuid.UUID | None = None
    org_path: str | None = None
    cadre_id: uuid.UUID | None = None

    @property
    def whole_tree(self) -> bool:
        return self.role in WHOLE_TREE

    @property
    def sees_id_numbers(self) -> bool:
        return self.role in SEES_ID_NUMBERS
