"""The authenticated actor, kept for a few seconds (`APP_AUTH__PRINCIPAL_CACHE_SECONDS`).

Loading the actor (its user row and its org path) was a fifth of a cadre read's time, and
verifying the token's signature another 8 % (issue 16). Two caches, per process:

- verified tokens, keyed by the token's SHA-256 (never the token itself), each until its own
  `exp` at the latest: verification is a pure function of the token and the keys;
- actors, keyed so that a token of an older token version never hits: (user id, token version),
  or (issuer, subject) for an external identity.

A change that alters what an actor may do (a password, a role, a deactivation, a token version,
the user's unit or cadre) or where its scope lies (a cadre moved to another unit, an org unit
moved in the tree) drops the affected entries in this process at once, and again when its
transaction commits (a request that read the old row in between cannot keep it).
Other processes and replicas lag by at most the lifetime: README, "Refresh tokens and logout".
"""

import hashlib
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.actor import Actor
from app.auth.tokens import Subject

_V = TypeVar("_V")


class _Expiring(Generic[_V]):
    """A bounded LRU map whose entries end at their own deadline (time.monotonic)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[float, _V]] = OrderedDict()
        self._lock = threading.Lock()  # a thread may verify (OIDC keys are fetched off the loop)

    def get(self, key: Hashable) -> _V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, value: _V, until: float) -> None:
        with self._lock:
            self._entries[key] = (until, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop_where(self, doomed: Callable[[_V], bool]) -> None:
        with self._lock:
            for key in [k for k, (_, v) in self._entries.items() if doomed(v)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def actor_key(subject: Subject) -> Hashable | None:
    if subject.user_id is not None:
        return ("user", subject.user_id, subject.token_version)
    if subject.external is not None:
        return ("external", subject.external.issuer, subject.external.subject)
    return None


class PrincipalCache:
    """One app's caches; `seconds` 0 turns both off."""

    def __init__(self, seconds: float, size: int) -> None:
        self.seconds = seconds
        self._tokens: _Expiring[Subject] = _Expiring(size)
        self._actors: _Expiring[Actor] = _Expiring(size)
        # Raised by every drop: an actor loaded while a drop happened is not kept (it may have
        # been read before the change committed).
        self.generation = 0
        _LIVE.add(self)

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def subject(self, token: str) -> Subject | None:
        return self._tokens.get(_digest(token)) if self.enabled else None

    def keep_subject(self, token: str, subject: Subject, expires_at: float | None) -> None:
        """Until the token's `exp` (a wall-clock time), never past it."""
        if not self.enabled or expires_at is None:
            return
        left = expires_at - time.time()
        if left > 0:
            self._tokens.put(_digest(token), subject, time.monotonic() + left)

    def actor(self, subject: Subject) -> Actor | None:
        key = actor_key(subject)
        return self._actors.get(key) if self.enabled and key is not None else None

    def keep_actor(self, subject: Subject, actor: Actor, generation: int) -> None:
        """`generation`: `self.generation` read before the actor was loaded."""
        key = actor_key(subject)
        if self.enabled and key is not None and generation == self.generation:
            self._actors.put(key, actor, time.monotonic() + self.seconds)

    def drop_user(self, user_id: uuid.UUID) -> None:
        self.generation += 1
        self._actors.drop_where(lambda actor: actor.user_id == user_id)

    def drop_actors(self) -> None:
        self.generation += 1
        self._actors.clear()


_LIVE: "weakref.WeakSet[PrincipalCache]" = weakref.WeakSet()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _now_and_after_commit(db_session: AsyncSession | None, drop: "_Drop") -> None:
    drop()
    if db_session is not None:
        event.listen(db_session.sync_session, "after_commit", lambda _s: drop(), once=True)


class _Drop:
    def __init__(self, user_id: uuid.UUID | None) -> None:
        self.user_id = user_id

    def __call__(self) -> None:
        for cache in list(_LIVE):
            if self.user_id is None:
                cache.drop_actors()
            else:
                cache.drop_user(self.user_id)


def forget_user(db_session: AsyncSession | None, user_id: uuid.UUID) -> None:
    """The user's actor changed (password, role, activity, token version, unit, cadre): drop it
    from every cache of this process, now and when `db_session`'s transaction commits."""
    _now_and_after_commit(db_session, _Drop(user_id))


def forget_scopes(db_session: AsyncSession | None) -> None:
    """Org paths changed (a cadre moved to another unit, a unit moved in the tree): drop every
    cached actor of this process, now and when `db_session`'s transaction commits."""
    _now_and_after_commit(db_session, _Drop(None))
