"""Lookups by resident ID number: who may make them, and how often.

A masked number (`rules.mask`) leaves thousands of candidates, so long as nothing tells which
candidate is right. Two things could: a search by number (`GET /cadres?id_number=`) and a write
answered `cadre.id_number_taken`. Searching is for the roles that see numbers whole; the others
may still write numbers (an org_admin keeps its units' cadres), for uniqueness must be refused,
but each write that names a number new to the record counts as a lookup. Both count against one
per-user limit, `APP_RATE_LIMIT__ID_NUMBER_LOOKUPS_PER_HOUR`."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.actor import Actor
from app.auth.rate_limit import RateLimiter
from app.cadre.errors import IdNumberSearchForbidden
from app.http import AppSettings
from app.i18n import _

_HOUR = 3600.0


async def _limiter(request: Request, settings: AppSettings) -> RateLimiter:
    """One limiter per application, made on first use (each process counts on its own, as the
    other limits do)."""
    state = request.app.state
    limiter: RateLimiter | None = getattr(state, "id_number_lookup_limiter", None)
    if limiter is None:
        limiter = RateLimiter(settings.rate_limit.id_number_lookups_per_hour, _HOUR)
        state.id_number_lookup_limiter = limiter
    return limiter


@dataclass(frozen=True)
class IdNumberLookups:
    limiter: RateLimiter

    def search(self, actor: Actor) -> None:
        """A search by number: 403 for the roles that see numbers masked, 429 past the limit."""
        if not actor.sees_id_numbers:
            raise IdNumberSearchForbidden(
                _("The {role} role sees ID numbers masked and may not search by them.").format(
                    role=actor.role.value
                )
            )
        self._count(actor)

    def uniqueness_check(self, actor: Actor) -> None:
        """A write about to learn whether a number is taken: counted for the roles that see
        numbers masked (429 past the limit); the others see every number whole anyway."""
        if not actor.sees_id_numbers:
            self._count(actor)

    def _count(self, actor: Actor) -> None:
        self.limiter.check(f"user:{actor.user_id}")


async def _lookups(limiter: Annotated[RateLimiter, Depends(_limiter)]) -> IdNumberLookups:
    return IdNumberLookups(limiter)


IdNumberLookupLimit = Annotated[IdNumberLookups, Depends(_lookups)]
