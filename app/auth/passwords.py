"""Password hashing (argon2id) with a constant-time answer whether or not the user exists.

Hashing costs about 300 ms of CPU: on the event loop it would stall every other request, so
`PasswordHashing` runs it in a few threads (argon2 releases the GIL) and refuses a login at once
when too many are already waiting."""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import AuthSettings
from app.errors import AppError

T = TypeVar("T")

_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class HashingBusy(AppError):
    status = 503
    code = "auth.busy"
    title = "Too many sign-ins are being checked; retry shortly"


def hash_password(password: str) -> str:
    """On the calling thread: for the CLI and start-up; request handlers use PasswordHashing."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(eq=False)
class PasswordHashing:
    """At most `concurrency` hashes at once, in threads; at most `queue` more wait for one."""

    concurrency: int
    queue: int
    _pending: int = 0
    _executor: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="argon2")

    async def _run(self, call: Callable[[], T]) -> T:
        # Only event-loop code touches `_pending`, between awaits: no lock needed.
        if self._pending >= self.concurrency + self.queue:
            raise HashingBusy(headers={"Retry-After": "1"})
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        finally:
            self._pending -= 1

    async def hash(self, password: str) -> str:
        return await self._run(partial(hash_password, password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await self._run(partial(verify_password, password_hash, password))


@lru_cache(maxsize=8)
def _hashing(concurrency: int, queue: int) -> PasswordHashing:
    return PasswordHashing(concurrency, queue)


def hashing(auth: AuthSettings) -> PasswordHashing:
    """The process's hashing threads for these settings (shared by every request)."""
    return _hashing(auth.password_hash_concurrency, auth.password_hash_queue)
