"""Database plumbing: declarative base, engine, and the one transaction boundary.

Services and repositories add and flush; only `transaction()` commits.
"""

import uuid
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import Annotated, Any, TypeVar

import asyncpg
import structlog
from fastapi import Depends, Request
from sqlalchemy import (
    ColumnElement,
    DateTime,
    MetaData,
    Select,
    any_,
    bindparam,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    QueryableAttribute,
    Session,
    SessionTransaction,
    declared_attr,
    mapped_column,
)

from app.actor import Actor
from app.config import Settings
from app.errors import AppError, DatabaseConnectError
from app.ids import new_id

log = structlog.get_logger(__name__)

# Constraint names are stable so integrity errors map to domain errors by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_T = TypeVar("_T")


def any_of(
    column: QueryableAttribute[_T] | ColumnElement[_T], values: Collection[_T]
) -> ColumnElement[bool]:
    """`column = ANY(:values)`, the values sent as ONE array parameter. `column.in_(values)`
    sends one parameter a value, and a statement carries at most 32,767: a request that names
    more keys (an import's HR ids) would fail."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class VersionedMixin:
    """Optimistic concurrency: `version` backs the ETag; SQLAlchemy bumps it on every UPDATE and
    adds `WHERE version = :old` so a concurrent writer cannot silently overwrite a change."""

    version: Mapped[int] = mapped_column(nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # eager_defaults: server-side values (updated_at) come back by RETURNING, never a lazy load.
        table = cls.__table__  # type: ignore[attr-defined]
        return {"version_id_col": table.c.version, "eager_defaults": True}


def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:  # refused, reset, unknown host, TimeoutError
        raise DatabaseConnectError(f"{type(exc).__name__}: {exc}") from exc


# Startup parameters pgbouncer tracks per client and passes on: it refuses any other.
_STARTUP_SETTINGS = {"application_name": "cadre-training", "timezone": "UTC"}


def _session_settings(settings: Settings) -> dict[str, str]:
    return {
        # An OLTP service: JIT compiles queries whose row estimates are guesses (the sums
        # triggers' transition tables) at a cost above the work itself.
        "jit": "off",
        "statement_timeout": str(settings.database.statement_timeout_ms),
    }


class _PgBouncerConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped
    """An asyncpg connection for pgbouncer in transaction mode, where a session outlives no
    transaction: the settings a direct connection sends once at startup go with every BEGIN,
    as `SET LOCAL`s in the same simple query (no round trip more)."""

    set_local = ""  # " SET LOCAL name = value;" a setting, in the engine's own subclass

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # asyncpg turns `jit` off for the session around its type introspection, and back on
        # only if it found it on: inside our transactions it finds it off (SET LOCAL), so it
        # would leave `jit = off` on a server connection pgbouncer hands to other clients.
        # Our transactions have it off anyway: asyncpg is told there is no JIT to switch.
        caps: Any = self._server_caps  # type: ignore[has-type]
        self._server_caps = caps._replace(jit=False)

    async def execute(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - asyncpg's own signature
    ) -> str:
        if not args and query.startswith("BEGIN"):  # asyncpg's Transaction.start()
            query += self.set_local
        status: str = await super().execute(query, *args, timeout=timeout)
        return status


def _pgbouncer_connection(settings: Settings) -> type[asyncpg.Connection]:
    values = _session_settings(settings)
    set_local = "".join(f" SET LOCAL {name} = {value};" for name, value in values.items())
    return type("PgBouncerConnection", (_PgBouncerConnection,), {"set_local": set_local})


def create_engine(settings: Settings, *, replica: bool = False) -> AsyncEngine:
    """The primary's engine, direct to PostgreSQL or through pgbouncer in transaction mode
    (`APP_DATABASE__PGBOUNCER`, docs/scaling.md), or with `replica` the read replica's
    (APP_DATABASE__REPLICA_URL, direct).

    Behind pgbouncer each transaction may run on another server connection, so nothing may
    outlive a transaction: no named prepared statement (asyncpg prepares every statement
    unnamed, replaced by the next; both statement caches off), and the settings a direct
    connection sends at startup, which pgbouncer refuses, are set at every BEGIN
    (`_PgBouncerConnection`). The replica's engine has the same pool settings, every
    transaction read-only, and a short connection timeout so a replica that does not answer
    sends the read to the primary instead of holding it."""
    db = settings.database
    url = settings.async_replica_url if replica else settings.async_database_url
    assert url is not None, "create_engine(replica=True) without APP_DATABASE__REPLICA_URL"
    server_settings = dict(_STARTUP_SETTINGS)
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    if db.pgbouncer and not replica:
        connect_args.update(
            statement_cache_size=0,
            prepared_statement_cache_size=0,
            connection_class=_pgbouncer_connection(settings),
        )
    else:
        server_settings.update(_session_settings(settings))
    if replica:
        # A replica given the primary's address by mistake still never takes a write.
        server_settings["default_transaction_read_only"] = "on"
        connect_args["timeout"] = db.replica_connect_timeout_seconds
    engine = create_async_engine(
        url,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        pool_timeout=db.pool_timeout_seconds,
        # No ping on every checkout (a round trip a request): a connection the server ended is
        # found by the first statement of a transaction, which is retried once (_Session).
        pool_pre_ping=False,
        # Statement parameters never reach logs or error messages (passwords, ID numbers).
        hide_parameters=True,
        connect_args=connect_args,
    )
    # A socket error while connecting is the database being unreachable (a 503); an OSError
    # anywhere else is not (app.errors.database_fault).
    event.listen(engine.sync_engine, "do_connect", _connect)
    return engine


_BOUND = "app.db.connection_bound"  # the transaction holds its connection (after_begin)


class _Session(Session):
    """Retries a statement once when it finds its pooled connection dead (the server restarted
    or ended the backend) — only when that very statement took the transaction's connection:
    nothing ran on it yet (no flush, no COPY, no earlier statement, no `connection()` with its
    options), so the statement runs again on a fresh connection as if the first had never been
    taken. A statement on a connection the transaction already used is never retried: what ran
    before it is lost with the connection, and the error must reach the caller (a 503), never a
    commit of half a transaction. SQLAlchemy invalidates the whole pool on a disconnect, so the
    retry never gets another dead one. This replaces `pool_pre_ping`, which cost a round trip
    on every checkout."""

    def _execute_internal(self, *args: Any, **kwargs: Any) -> Any:
        if self.info.get(_BOUND):
            return super()._execute_internal(*args, **kwargs)
        pending = self.info.get(_PENDING)
        try:
            return super()._execute_internal(*args, **kwargs)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        self.rollback()  # ends the failed transaction; the next statement takes a new connection
        if pending is not None:
            self.info[_PENDING] = pending
        return super()._execute_internal(*args, **kwargs)


@event.listens_for(Session, "after_begin")
def _bound(session: Session, transaction: SessionTransaction, _connection: Any) -> None:
    if transaction.parent is None:
        session.info[_BOUND] = True


def create_sessionmaker(bind: Any) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=bind, expire_on_commit=False, autoflush=False, sync_session_class=_Session
    )


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession], *, read: bool = False
) -> AsyncIterator[AsyncSession]:
    """The transaction boundary for requests, the CLI and jobs: commit on success, roll back
    on error. Services and repositories only add and flush.

    `read` (GET, HEAD): the statements run without BEGIN and COMMIT until the first one that
    writes, locks or streams, which opens the transaction (`_begin_before_writing`). Under READ
    COMMITTED every statement takes its own snapshot anyway, so a read sees what it saw inside
    a transaction, and a plain read costs one round trip."""
    async with sessionmaker() as db_session:
        if read:
            db_session.info[_READ] = True
        try:
            yield db_session
            await db_session.commit()
        except BaseException:
            await db_session.rollback()
            raise


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    # A request already inside a transaction (an Idempotency-Key retry guard) joins it.
    joined: AsyncSession | None = getattr(request.state, "db_session", None)
    if joined is not None:
        yield joined
        return
    settings: Settings = request.app.state.settings
    # Behind pgbouncer the statement timeout and `jit` ride on BEGIN (_PgBouncerConnection): a
    # read there keeps its BEGIN, or its statements would run with the server's defaults.
    read = request.method in ("GET", "HEAD") and not settings.database.pgbouncer
    async with transaction(request.app.state.sessionmaker, read=read) as db_session:
        yield db_session


# scope="function": commit before the response is sent, so a failed commit is never a 2xx.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


async def end_early(db_session: AsyncSession) -> None:
    """Commit the request's transaction now and give its connection back to the pool, for a
    request that then runs transactions of its own (an evaluation answer): holding both would
    take two connections a request, and requests at once that outnumber half the connections
    (pgbouncer's few server connections) would each hold one and wait for another. The session
    stays usable; the boundary at the request's end then commits nothing more."""
    await db_session.commit()


# How far the replica's replay is behind: none when it streams from its primary and has replayed
# all it received (an idle primary sends nothing, so the last replayed commit's age alone would
# read as a growing lag); else — replay behind, or the standby cut off from its primary, when
# "all it received" says nothing — the age of the last commit it replayed (infinite if none).
# NULL on a server that is not a standby.
_REPLICA_LAG = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() "
    "AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0 "
    "ELSE COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, "
    "'Infinity') END"
)


async def replica_lag(replica: AsyncSession) -> float | None:
    """How far the replica's replay is behind, in seconds (None: not a standby). Every user of
    the replica asks this first: with no pre-ping, it is also what finds a pooled connection
    the replica ended (retried once, `_Session`), while the read can still go elsewhere."""
    lag: float | None = (await replica.execute(_REPLICA_LAG)).scalar_one()
    return lag


async def _open_replica(request: Request) -> AsyncSession | None:
    """A read-only transaction on the replica; None (the read goes to the primary) when no
    replica is configured, or it is down, refuses, or lags past
    APP_DATABASE__REPLICA_MAX_LAG_SECONDS. A fallback is logged and counted
    (`replica_fallbacks_total` on /metrics), never an error."""
    reader: async_sessionmaker[AsyncSession] | None = getattr(
        request.app.state, "replica_sessionmaker", None
    )
    if reader is None:
        return None
    settings: Settings = request.app.state.settings
    max_lag = settings.database.replica_max_lag_seconds
    replica = reader()
    try:
        # Always one statement here, even with no lag bound: the pool is not pre-pinged, so a
        # connection the replica ended is found (and retried once, _Session) now, while the read
        # can still go to the primary, not by the report's first statement.
        lag = await replica_lag(replica)
        if max_lag is not None and lag is not None and lag > max_lag:
            await replica.close()
            _fell_back(request, "lag", lag_seconds=round(lag, 3))
            return None
    except (DatabaseConnectError, SQLAlchemyError, OSError) as exc:
        await replica.close()
        _fell_back(request, "unavailable", error=type(exc).__name__)
        return None
    return replica


def _fell_back(request: Request, reason: str, **details: Any) -> None:
    log.warning("replica_fallback", reason=reason, **details)
    request.app.state.metrics.replica_fallbacks.labels(reason=reason).inc()


async def get_read_session(request: Request, db_session: DbSession) -> AsyncIterator[AsyncSession]:
    """The session of a read that may lag (docs/scaling.md, "Read replica"): on the replica
    when one is configured and current enough, else the request's own transaction on the
    primary (the one `authorize` opened: no second connection)."""
    replica = await _open_replica(request)
    if replica is None:
        request.state.read_sessionmaker = request.app.state.sessionmaker
        yield db_session
        return
    request.state.read_sessionmaker = request.app.state.replica_sessionmaker
    try:
        yield replica
    finally:
        # Read-only: nothing to commit; ending it returns the connection at once.
        await replica.close()


# Function scope, as DbSession's: the replica's connection goes back before the answer is sent.
ReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


def read_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The sessionmaker of the database `ReadSession` chose for this request, for a read that
    outlives the endpoint (a streamed export)."""
    chosen: async_sessionmaker[AsyncSession] = request.state.read_sessionmaker
    return chosen


def constraint_name(exc: IntegrityError) -> str | None:
    """The violated constraint's name, as asyncpg reports it."""
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or getattr(orig, "constraint_name", None)
    return name if isinstance(name, str) else None


@contextmanager
def mapping_conflicts(by_constraint: Mapping[str, AppError]) -> Iterator[None]:
    """Turn a violated unique/foreign key (lost race with another writer) into the domain error
    named for that constraint."""
    try:
        yield
    except IntegrityError as exc:
        error = by_constraint.get(constraint_name(exc) or "")
        if error is None:
            raise
        raise error from exc


async def flush_mapping_conflicts(
    db_session: AsyncSession, by_constraint: Mapping[str, AppError]
) -> None:
    """Flush, mapping conflicts as `mapping_conflicts` does."""
    with mapping_conflicts(by_constraint):
        await db_session.flush()


# Who is writing. The audit trail is written by the database (migration 0013): a statement-level
# trigger on every audited table records each row's change, with the actor and the request id it
# reads from these transaction-local settings. `attribute` sets them wherever a transaction is
# opened for someone: `app.security.authorize` for API requests, the token endpoint, the CLI and
# the webhook worker. A transaction that sets nothing is recorded without an actor.
_SET = text(
    "SELECT set_config('app.actor_id', :actor_id, true), "
    "set_config('app.actor_username', :actor_username, true), "
    "set_config('app.actor_role', :actor_role, true), "
    "set_config('app.request_id', :request_id, true), "
    "set_config('app.client_request_id', :client_request_id, true)"
)


_PENDING = "app.db.pending_attribution"


async def attribute(
    db_session: AsyncSession,
    *,
    request_id: str | None,
    actor: Actor | None = None,
    client_request_id: str | None = None,
    lazy: bool = False,
) -> None:
    """Every write of this transaction from now on is recorded as `actor`'s (none: a system
    write) from `request_id`, the server's own id of the request (or a job's name), with the
    `X-Request-ID` the client sent beside it as `client_request_id` (migration 0015). Every
    call overwrites all the settings, so nothing of an earlier caller lingers; they end with
    the transaction.

    `lazy` (reads): nothing is sent now; the settings go out just before the transaction's
    first statement that is not a SELECT (a flush, a Core write, any text statement) or its
    first COPY (`attribute_pending`). A read that never writes saves the round trip, and a
    GET that does write (a scorecard frozen on first read) is still attributed."""
    params = {
        "actor_id": str(actor.user_id) if actor else "",
        "actor_username": actor.username if actor else "",
        "actor_role": actor.role.value if actor else "",
        "request_id": request_id or "",
        "client_request_id": client_request_id or "",
    }
    if lazy:
        db_session.info[_PENDING] = params
        return
    db_session.info.pop(_PENDING, None)
    await db_session.execute(_SET, params)


async def attribute_pending(db_session: AsyncSession) -> None:
    """Before a write the session's events do not see (COPY on the driver's connection): open
    a deferred transaction and send a lazy attribution now."""
    _before_writing(db_session.sync_session)
    if _PENDING in db_session.info:
        await db_session.execute(_SET, db_session.info.pop(_PENDING))


# A read transaction (`transaction(read=True)`) leaves its driver connection in autocommit
# until it writes: these keys of `Session.info` hold the state.
_READ = "app.db.read"
_DEFERRED = "app.db.deferred_begin"  # the driver connection left in autocommit


@event.listens_for(Session, "after_begin")
def _defer_begin(session: Session, transaction: SessionTransaction, connection: Any) -> None:
    if not session.info.get(_READ) or transaction.parent is not None:
        return
    driver = connection.connection.dbapi_connection
    if getattr(driver, "autocommit", None) is False:
        driver.autocommit = True  # asyncpg's adapter then sends no BEGIN (nor COMMIT)
        session.info[_DEFERRED] = driver


def _before_writing(session: Session) -> None:
    # From now on the transaction is a writer's: a connection taken later is not deferred
    # either (the write may be the transaction's first statement, before any connection).
    session.info.pop(_READ, None)
    _restore(session)


def _restore(session: Session) -> None:
    driver = session.info.pop(_DEFERRED, None)
    if driver is not None:
        driver.autocommit = False  # the next statement sends BEGIN first


def _plain_read(state: ORMExecuteState) -> bool:
    """A SELECT that needs no transaction: no row lock, no advisory lock, no cursor."""
    statement = state.statement
    if not isinstance(statement, Select) or statement._for_update_arg is not None:
        return False
    options = state.execution_options
    if options.get("yield_per") or options.get("stream_results"):
        return False
    return not any(getattr(column, "name", None) in _LOCKS for column in statement.selected_columns)


_LOCKS = frozenset({"pg_advisory_xact_lock", "pg_try_advisory_xact_lock"})


@event.listens_for(Session, "do_orm_execute")
def _begin_before_writing(state: ORMExecuteState) -> None:
    info = state.session.info
    if (_READ not in info and _PENDING not in info) or _plain_read(state):
        return
    _before_writing(state.session)
    if _PENDING in info:
        # A retried first statement (_Session) puts it back and sends it again.
        state.session.execute(_SET, info.pop(_PENDING))


@event.listens_for(Session, "before_flush")
def _begin_before_flushing(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        _before_writing(session)
        if _PENDING in session.info:
            session.execute(_SET, session.info.pop(_PENDING))


@event.listens_for(Session, "after_transaction_end")
def _end(session: Session, transaction: SessionTransaction) -> None:
    # The settings are transaction-local, and the pooled connection goes back as it came.
    if transaction.parent is None:
        _restore(session)
        session.info.pop(_PENDING, None)
        session.info.pop(_BOUND, None)


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """The application's sessionmaker, for the one flow that runs transactions of its own
    instead of the request's: an evaluation answer (app/evaluation/answering.py)."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return sessionmaker


Sessionmaker = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
