"""A per-client sliding-window rate limit, in process memory (each replica counts alone)."""

import time
from collections import deque
from dataclasses import dataclass, field

from app.errors import AppError
from app.i18n import N_, _


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    title = N_("Too many requests; retry later")


@dataclass
class RateLimiter:
    limit: int
    window_seconds: float = 60.0
    max_clients: int = 100_000
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def check(self, client: str) -> None:
        """Count a request from `client`, or raise RateLimited with Retry-After."""
        now = time.monotonic()
        hits = self._hits.get(client)
        if hits is None:
            if len(self._hits) >= self.max_clients:
                self._evict(now)
            hits = self._hits[client] = deque()
        while hits and hits[0] <= now - self.window_seconds:
            hits.popleft()
        if len(hits) >= self.limit:
            retry_after = max(1, int(hits[0] + self.window_seconds - now) + 1)
            raise RateLimited(
                _("At most {limit} requests per {seconds} s.").format(
                    limit=self.limit, seconds=int(self.window_seconds)
                ),
                headers={"Retry-After": str(retry_after)},
            )
        hits.append(now)

    def _evict(self, now: float) -> None:
        for key in [
            k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_seconds
        ]:
            del self._hits[key]
        # Still full of active clients: drop the least recently seen half, never everyone
        # (a flood of fresh keys must not reset the counts of the clients being limited).
        if len(self._hits) >= self.max_clients:
            by_last_hit = sorted(self._hits, key=lambda k: self._hits[k][-1])
            for key in by_last_hit[: len(by_last_hit) // 2]:
                del self._hits[key]
