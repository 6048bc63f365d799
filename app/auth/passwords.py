"""Password hashing (argon2id) with a constant-time answer whether or not the user exists.

Hashing costs up to ~300 ms of CPU: on the event loop it would stall every other request, so
`PasswordHashing` runs it in a few threads (argon2 releases the GIL). A login first waits for
its turn at those threads, holding nothing else (no database connection), and is refused at
once when too many already wait."""

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.config import AuthSettings
from app.errors import AppError
from app.i18n import N_

T = TypeVar("T")

_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class HashingBusy(AppError):
    status = 503
    code = "auth.busy"
    title = N_("Too many sign-ins are being checked; retry shortly")


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
    """`concurrency` threads hash; a login takes a turn at them (`turn`), and at most `queue`
    logins wait for one."""

    concurrency: int
    queue: int
    _waiting: int = 0
    _executor: ThreadPoolExecutor = field(init=False)
    # One semaphore per event loop (a semaphore belongs to the loop it first waits on).
    _turns: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = field(
        init=False, default_factory=weakref.WeakKeyDictionary
    )

    def __post_init__(self) -> None:
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="argon2")

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Waits for a free hashing thread; HashingBusy (503) when `queue` logins already wait.
        Take it before opening the database transaction, so that waiting holds no connection."""
        loop = asyncio.get_running_loop()
        turns = self._turns.setdefault(loop, asyncio.Semaphore(self.concurrency))
        # Only event-loop code touches `_waiting`, between awaits: no lock needed.
        if turns.locked() and self._waiting >= self.queue:
            raise HashingBusy(headers={"Retry-After": "1"})
        self._waiting += 1
        try:
            await turns.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            turns.release()

    async def _run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

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
