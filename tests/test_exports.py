"""Exports that finish or say they didn't (issue 11): the direct unit archive fails before its
first byte with a problem, or aborts the connection after it; large exports are jobs run by the
export worker, whose file is served with its length, checksum and ranges."""

import asyncio
import base64
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.archive import unit_export
from app.auth.principals import forget_user
from app.config import ExportSettings, Settings
from app.db import create_sessionmaker
from app.enums import Role
from app.export import rules, worker
from app.export.models import ExportChunk, ExportJob
from app.main import create_app
from tests.conftest import add_user, bearer
from tests.factories import API, create_cadre, create_log, create_org_unit
from tests.live_server import serving_in_thread
from tests.test_database_faults import assert_retry_later, locked, own_app

REPO = Path(__file__).resolve().parent.parent
FAST = ExportSettings(heartbeat_seconds=0.2, lease_seconds=5, poll_interval_seconds=0.1)


async def _unit_with_cadres(client: httpx.AsyncClient, cadres: int = 3) -> dict[str, Any]:
    unit = await create_org_unit(client, name="来安县")
    for n in range(cadres):
        cadre = await create_cadre(client, unit["id"], name=f"干部{n}")
        await create_log(
            client,
            cadre["id"],
            title=f"专题班{n}",
            status="approved",
            start_date="2024-03-01",
            end_date="2024-03-02",
        )
    return unit


# --- the direct stream -------------------------------------------------------------------------


async def test_a_statement_timeout_before_the_first_byte_is_a_problem_not_a_cut_200(
    client: httpx.AsyncClient, db_conn: AsyncConnection, engine: AsyncEngine
) -> None:
    """The export query times out (a lock holds its table): the answer is a problem+json 503
    to retry, never a 200 whose CSV stops after its header."""
    unit = await create_org_unit(client)
    await create_cadre(client, unit["id"])
    await db_conn.execute(text("SET LOCAL statement_timeout = 300"))
    async with engine.connect() as locker:
        await locker.execute(text("SET lock_timeout = '10s'"))
        await locker.execute(text("LOCK TABLE study_log IN ACCESS EXCLUSIVE MODE"))
        r = await client.get(f"{API}/org-units/{unit['id']}/archive", params={"year": 2024})
        await locker.rollback()
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"]
    assert r.json()["code"] == "query_timeout"


class _Gate:
    """Holds the response after its first body chunk until released, so the test can break
    the export's database connection in the middle of a stream."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.first_sent = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def gated(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not self.first_sent.is_set():
                self.first_sent.set()
                await asyncio.to_thread(self.release.wait, 30)

        await self.app(scope, receive, gated)


def _serving(app: ASGIApp) -> AbstractContextManager[str]:
    return serving_in_thread(app, log_level="critical")


async def test_a_failure_after_the_first_byte_aborts_the_connection(
    committed_client: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The export's connection dies after the first rows were sent (a database restart): a
    real uvicorn cuts the connection without the last chunk of the chunked body, so the
    client sees an incomplete body, not a complete-looking short CSV."""
    monkeypatch.setattr(unit_export, "CHUNK_ROWS", 2)
    unit = await _unit_with_cadres(committed_client, cadres=6)
    gate = _Gate(create_app(settings))
    with _serving(gate) as base:
        async with (
            httpx.AsyncClient(base_url=base, headers=committed_client.headers) as http,
            http.stream("GET", f"{API}/org-units/{unit['id']}/archive", params={"year": 2024}) as r,
        ):
            assert r.status_code == 200
            assert r.headers["transfer-encoding"] == "chunked"
            chunks = r.aiter_raw()
            first = await anext(chunks)
            assert first.startswith("\ufeff".encode())
            assert await asyncio.to_thread(gate.first_sent.wait, 10)
            async with engine.connect() as conn:
                killed = await conn.scalar(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'cadre-training' "
                        "AND state = 'idle in transaction'"
                    )
                )
            assert killed == 1  # the stream's query has run: the rows were sent
            gate.release.set()
            with pytest.raises(httpx.RemoteProtocolError):
                async for _ in chunks:
                    pass


async def test_a_database_fault_before_the_files_first_byte_is_503_not_a_cut_200(
    settings: Settings, engine: AsyncEngine, maker: async_sessionmaker[AsyncSession]
) -> None:
    """The file is read on a session of its own, after the job was checked: a fault there
    (its query past the statement timeout) came after a 200 with `Content-Length` and no body.
    Its first piece is read before answering, so the fault is still a 503 to retry."""
    async with own_app(settings, engine, statement_timeout_ms=300) as (client, _):
        unit = await _unit_with_cadres(client, cadres=1)
        _, job = await _create(client, unit["id"])
        await worker.work_once(maker, FAST)
        url = f"{API}/exports/{job['id']}/file"
        async with locked(engine, "export_chunk"):
            r = await client.get(url)
            assert_retry_later(r, "query_timeout")
        r = await client.get(url)
        assert r.status_code == 200, r.text
        assert len(r.content) == int(r.headers["content-length"]) > 0


# --- ranges ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=90-", 100, (90, 99)),
        ("bytes=90-500", 100, (90, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-500", 100, (0, 99)),
        ("bytes=99-99", 100, (99, 99)),
        ("bytes=100-", 100, "416"),
        ("bytes=100-200", 100, "416"),
        ("bytes=-0", 100, "416"),
        ("bytes=0-", 0, "416"),
        ("bytes=9-0", 100, None),  # invalid: ignored, the whole file
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole file
        ("items=0-9", 100, None),
        ("bytes=-", 100, None),
        ("bytes=a-b", 100, None),
        ("BYTES=0-1", 100, (0, 1)),  # the unit is case-insensitive (RFC 9110 §14.1)
        ("Bytes=-10", 100, (90, 99)),
    ],
)
def test_byte_ranges(header: str | None, size: int, expected: object) -> None:
    if expected == "416":
        with pytest.raises(rules.Unsatisfiable):
            rules.byte_range(header, size)
    else:
        assert rules.byte_range(header, size) == expected


# --- jobs --------------------------------------------------------------------------------------


@pytest.fixture
def maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


async def _job(engine: AsyncEngine, export_id: str) -> ExportJob:
    async with create_sessionmaker(engine)() as db_session:
        job = await db_session.get(ExportJob, uuid.UUID(export_id))
        assert job is not None
        return job


async def _create(
    client: httpx.AsyncClient, unit_id: str, **fields: Any
) -> tuple[httpx.Response, dict[str, Any]]:
    body = {"org_unit_id": unit_id, "year": 2024, **fields}
    r = await client.post(f"{API}/exports", json=body)
    assert r.status_code == 202, r.text
    return r, r.json()


async def test_a_job_writes_the_file_the_direct_route_streams(
    committed_client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    client = committed_client
    unit = await _unit_with_cadres(client)
    r, job = await _create(client, unit["id"])
    assert r.headers["location"] == f"{API}/exports/{job['id']}"
    assert (job["status"], job["rows_done"], job["file_url"]) == ("queued", 0, None)
    assert (await client.get(f"{API}/exports/{job['id']}/file")).status_code == 409

    assert await worker.work_once(maker, FAST) == uuid.UUID(job["id"])
    done = (await client.get(r.headers["location"])).json()
    assert (done["status"], done["rows_done"], done["rows_total"]) == ("succeeded", 3, 3)
    assert done["finished_at"] is not None

    file = await client.get(done["file_url"])
    direct = await client.get(f"{API}/org-units/{unit['id']}/archive", params={"year": 2024})
    assert file.status_code == 200
    assert file.content == direct.content
    assert file.headers["content-length"] == str(len(file.content)) == str(done["size_bytes"])
    assert file.headers["accept-ranges"] == "bytes"
    digest = hashlib.sha256(file.content)
    assert done["sha256"] == digest.hexdigest()
    assert file.headers["etag"] == f'"{digest.hexdigest()}"'
    assert file.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest.digest()).decode()}:"
    assert "filename*=UTF-8''" in file.headers["content-disposition"]
    assert file.headers["content-type"].startswith("text/csv")
    # The job's file is in zh-CN, whatever the download's Accept-Language (the suite's en).
    assert file.headers["content-language"] == "zh-CN"
    assert "accept-language" not in file.headers.get("vary", "").lower()
    listed = (await client.get(f"{API}/exports")).json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert await worker.work_once(maker, FAST) is None  # nothing left to do


async def test_a_jobs_workbook_is_in_chinese_typed_frozen_and_filtered(
    committed_client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    """A job writes what the direct route streams by default: zh-CN headers and labels."""
    import io

    from openpyxl import load_workbook

    client = committed_client
    unit = await _unit_with_cadres(client, cadres=2)
    _, job = await _create(client, unit["id"], format="xlsx")
    assert job["lang"] == "zh-CN"
    assert await worker.work_once(maker, FAST) == uuid.UUID(job["id"])
    done = (await client.get(f"{API}/exports/{job['id']}")).json()
    file = await client.get(done["file_url"])
    sheet = load_workbook(io.BytesIO(file.content))["2024"]
    header, *rows = ([c.value for c in row] for row in sheet.iter_rows())
    assert header[:5] == ["单位代码", "单位", "人事编号", "姓名", "职务层次"]
    assert len(rows) == 2
    assert {row[header.index("审核状态")] for row in rows} == {"已通过"}
    assert {row[header.index("开始日期")] for row in rows} == {datetime(2024, 3, 1)}
    assert sheet["R2"].number_format == "yyyy-mm-dd"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:X3"
    assert sheet.column_dimensions["A"].width > 8.43


async def test_an_english_job_writes_english_headers_and_labels(
    committed_client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    """`lang: en` on the job: its CSV and its workbook have the English headers and labels of
    the direct route's `?lang=en`, the job says its language, and the file's Content-Language
    is the job's, whatever the download's Accept-Language."""
    import csv
    import io

    from openpyxl import load_workbook

    client = committed_client
    unit = await _unit_with_cadres(client, cadres=2)
    _, csv_job = await _create(client, unit["id"], lang="en")
    _, xlsx_job = await _create(client, unit["id"], format="xlsx", lang="en")
    assert (csv_job["lang"], xlsx_job["lang"]) == ("en", "en")
    for _ in range(2):
        assert await worker.work_once(maker, FAST) is not None
    read = (await client.get(f"{API}/exports/{csv_job['id']}")).json()
    assert (read["status"], read["lang"]) == ("succeeded", "en")
    file = await client.get(read["file_url"], headers={"Accept-Language": "zh-CN"})
    assert file.headers["content-language"] == "en"
    direct = await client.get(
        f"{API}/org-units/{unit['id']}/archive", params={"year": 2024, "lang": "en"}
    )
    assert file.content == direct.content
    header, *rows = list(csv.reader(io.StringIO(file.content.decode("utf-8-sig"))))
    assert header[:5] == ["org_unit_code", "org_unit", "hr_id", "name", "rank"]
    assert {row[header.index("log_status")] for row in rows} == {"Approved"}

    done = (await client.get(f"{API}/exports/{xlsx_job['id']}")).json()
    workbook = await client.get(done["file_url"])
    assert workbook.headers["content-language"] == "en"
    sheet = load_workbook(io.BytesIO(workbook.content))["2024"]
    header, *rows = ([c.value for c in row] for row in sheet.iter_rows())
    assert header == next(csv.reader(io.StringIO(direct.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    assert {row[header.index("log_status")] for row in rows} == {"Approved"}
    assert {row[header.index("log_start_date")] for row in rows} == {datetime(2024, 3, 1)}
    bad = await client.post(
        f"{API}/exports", json={"org_unit_id": unit["id"], "year": 2024, "lang": "fr"}
    )
    assert bad.status_code == 422


async def test_an_interrupted_download_resumes_byte_identical(
    committed_client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    """XLSX in 1 KiB chunks: ranges across chunk boundaries, resumed with If-Range, make the
    same file; a range past the end is 416; a changed file (another ETag) is sent whole."""
    client = committed_client
    unit = await _unit_with_cadres(client, cadres=5)
    _, job = await _create(client, unit["id"], format="xlsx")
    await worker.work_once(maker, FAST.model_copy(update={"chunk_bytes": 1024}))
    url = f"{API}/exports/{job['id']}/file"
    whole = await client.get(url)
    size, etag = len(whole.content), whole.headers["etag"]
    assert size > 3 * 1024
    assert whole.content.startswith(b"PK")  # a zip: the workbook

    head = await client.get(url, headers={"Range": "bytes=0-1500"})
    assert head.status_code == 206
    assert head.headers["content-range"] == f"bytes 0-1500/{size}"
    assert len(head.content) == int(head.headers["content-length"]) == 1501
    rest = await client.get(url, headers={"Range": "bytes=1501-", "If-Range": etag})
    assert rest.status_code == 206
    assert rest.headers["content-range"] == f"bytes 1501-{size - 1}/{size}"
    assert head.content + rest.content == whole.content
    assert hashlib.sha256(head.content + rest.content).hexdigest() == etag.strip('"')

    middle = await client.get(url, headers={"Range": "bytes=1000-2100"})
    assert middle.content == whole.content[1000:2101]
    tail = await client.get(url, headers={"Range": "bytes=-10"})
    assert tail.content == whole.content[-10:]
    past = await client.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{size}"
    assert past.json()["code"] == "export.range_not_satisfiable"
    stale = await client.get(url, headers={"Range": "bytes=10-", "If-Range": '"other"'})
    assert (stale.status_code, stale.content) == (200, whole.content)
    several = await client.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert (several.status_code, several.content) == (200, whole.content)


async def test_the_file_route_answers_head_and_ignores_ranges_it_cannot_serve(
    committed_client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    """HEAD gives the GET's headers; a long Range (60 ranges) or If-Range gets the whole file,
    not a 422 (RFC 9110 §14.2); the unit's case does not matter; a 206 has the
    file's own content type, as documented."""
    client = committed_client
    unit = await _unit_with_cadres(client, cadres=2)
    _, job = await _create(client, unit["id"], format="xlsx")
    await worker.work_once(maker, FAST)
    url = f"{API}/exports/{job['id']}/file"
    whole = await client.get(url)
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    head = await client.head(url)
    assert (head.status_code, head.content) == (200, b"")
    for name in ("content-length", "etag", "repr-digest", "accept-ranges", "content-type"):
        assert head.headers[name] == whole.headers[name], name
    head = await client.head(url, headers={"Range": "bytes=0-9"})
    assert (head.status_code, head.headers["content-range"]) == (
        206,
        f"bytes 0-9/{len(whole.content)}",
    )

    many = "bytes=" + ",".join(f"{n * 10}-{n * 10 + 1}" for n in range(60))
    assert len(many) > 200
    for headers in ({"Range": many}, {"Range": "bytes=0-9", "If-Range": '"' + "x" * 300 + '"'}):
        r = await client.get(url, headers=headers)
        assert (r.status_code, r.content) == (200, whole.content), r.text

    part = await client.get(url, headers={"Range": "BYTES=0-9"})
    assert (part.status_code, part.content) == (206, whole.content[:10])
    assert part.headers["content-type"] == xlsx
    documented = create_app().openapi()["paths"]["/api/v1/exports/{export_id}/file"]["get"]
    assert xlsx in documented["responses"]["206"]["content"]


async def test_a_job_reports_its_progress_as_it_runs(
    committed_client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    client = committed_client
    unit = await _unit_with_cadres(client, cadres=4)
    _, job = await _create(client, unit["id"])
    seen: list[tuple[str, int, int | None]] = []

    async def watch(_rows: int) -> None:
        now = (await client.get(f"{API}/exports/{job['id']}")).json()
        seen.append((now["status"], now["rows_done"], now["rows_total"]))

    await worker.work_once(maker, FAST.model_copy(update={"progress_rows": 1}), progress=watch)
    assert seen == [
        ("running", 1, 4),
        ("running", 2, 4),
        ("running", 3, 4),
        ("running", 4, 4),
        ("succeeded", 4, 4),
    ]


async def test_jobs_and_files_expire(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    client = committed_client
    unit = await _unit_with_cadres(client, cadres=1)
    _, job = await _create(client, unit["id"])
    await worker.work_once(maker, FAST)
    finished = await _job(engine, job["id"])
    assert finished.expires_at - finished.finished_at == timedelta(hours=24)  # type: ignore[operator]
    async with engine.begin() as conn:  # the retention has passed
        await conn.execute(
            text("UPDATE export_job SET expires_at = now() - interval '1 second' WHERE id = :i"),
            {"i": job["id"]},
        )
    assert (await client.get(f"{API}/exports/{job['id']}")).json()["status"] == "expired"
    gone = await client.get(f"{API}/exports/{job['id']}/file")
    assert (gone.status_code, gone.json()["code"]) == (410, "export.expired")
    assert await worker.prune(maker, FAST, datetime.now(UTC)) == worker.Pruned(1, 0)
    async with engine.connect() as conn:
        chunks = await conn.scalar(
            select(text("count(*)"))
            .select_from(ExportChunk)
            .where(ExportChunk.export_job_id == uuid.UUID(job["id"]))
        )
    assert chunks == 0
    assert (await _job(engine, job["id"])).status == "expired"
    # A job that was never run expires too, and no worker takes it any more.
    _, _queued = await _create(client, unit["id"])
    later = datetime.now(UTC) + timedelta(hours=25)
    assert await worker.claim(maker, FAST, later) is None
    assert await worker.prune(maker, FAST, later) == worker.Pruned(1, 0)


async def test_expired_jobs_are_deleted_after_a_further_time(
    committed_client: httpx.AsyncClient, maker: async_sessionmaker[AsyncSession]
) -> None:
    """An expired job stays (410, `status: expired`) for `purge_after_hours`; then the worker's
    prune deletes its row, so the table does not grow without bound."""
    client = committed_client
    unit = await _unit_with_cadres(client, cadres=1)
    _, job = await _create(client, unit["id"])
    await worker.work_once(maker, FAST)
    expires = datetime.fromisoformat(
        (await client.get(f"{API}/exports/{job['id']}")).json()["expires_at"]
    )
    purge_after = timedelta(hours=FAST.purge_after_hours)
    assert await worker.prune(maker, FAST, expires + timedelta(seconds=1)) == worker.Pruned(1, 0)
    just_before = expires + purge_after - timedelta(seconds=1)
    assert await worker.prune(maker, FAST, just_before) == worker.Pruned(0, 0)
    async with maker() as db_session:
        assert await db_session.get(ExportJob, uuid.UUID(job["id"])) is not None
    assert await worker.prune(maker, FAST, expires + purge_after + timedelta(seconds=1)) == (
        worker.Pruned(0, 1)
    )
    r = await client.get(f"{API}/exports/{job['id']}")
    assert (r.status_code, r.json()["code"]) == (404, "export.not_found")
    assert (await client.get(f"{API}/exports")).json()["items"] == []


# --- scope -------------------------------------------------------------------------------------


async def test_a_job_is_its_requesters_and_runs_with_the_requesters_rights(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    engine: AsyncEngine,
) -> None:
    client = committed_client
    city = await create_org_unit(client)
    mine = await _unit_with_cadres(client)
    other = await _unit_with_cadres(client)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE org_unit SET parent_id = :p WHERE id = :i"),
            {"p": city["id"], "i": mine["id"]},
        )
    admin_of_mine = await add_user(maker, Role.org_admin, org_unit_id=mine["id"])
    headers = bearer(settings, admin_of_mine)
    outsider = bearer(settings, await add_user(maker, Role.org_admin, org_unit_id=other["id"]))

    # Outside the requester's subtree: 404, as the direct archive answers.
    r = await client.post(
        f"{API}/exports", json={"org_unit_id": other["id"], "year": 2024}, headers=headers
    )
    assert (r.status_code, r.json()["code"]) == (404, "org_unit.not_found")
    r = await client.post(
        f"{API}/exports", json={"org_unit_id": mine["id"], "year": 2024}, headers=headers
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert (await client.get(f"{API}/exports/{job['id']}", headers=outsider)).status_code == 404
    assert (await client.get(f"{API}/exports", headers=outsider)).json()["items"] == []
    assert (await client.get(f"{API}/exports/{job['id']}")).status_code == 200  # an admin

    # The requester is moved to another unit before the job runs: it fails, leaking nothing.
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE app_user SET org_unit_id = :o WHERE id = :i"),
            {"o": other["id"], "i": admin_of_mine.id},
        )
    forget_user(None, admin_of_mine.id)  # SQL, not the user service: drop the cached actor
    await worker.work_once(maker, FAST)
    failed = (await client.get(f"{API}/exports/{job['id']}", headers=headers)).json()
    assert (failed["status"], failed["error_code"]) == ("failed", "export.out_of_scope")
    assert failed["sha256"] is None
    r = await client.get(f"{API}/exports/{job['id']}/file", headers=headers)
    assert (r.status_code, r.json()["code"]) == (409, "export.failed")

    # Back in rights, a new job succeeds; losing them again, the file is not served.
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE app_user SET org_unit_id = :o WHERE id = :i"),
            {"o": mine["id"], "i": admin_of_mine.id},
        )
    forget_user(None, admin_of_mine.id)  # SQL, not the user service: drop the cached actor
    r = await client.post(
        f"{API}/exports", json={"org_unit_id": mine["id"], "year": 2024}, headers=headers
    )
    again = r.json()
    await worker.work_once(maker, FAST)
    assert (
        await client.get(f"{API}/exports/{again['id']}/file", headers=headers)
    ).status_code == 200
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE app_user SET org_unit_id = :o WHERE id = :i"),
            {"o": other["id"], "i": admin_of_mine.id},
        )
    forget_user(None, admin_of_mine.id)  # SQL, not the user service: drop the cached actor
    r = await client.get(f"{API}/exports/{again['id']}/file", headers=headers)
    assert r.status_code == 404

    # A deactivated requester's job fails too.
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE app_user SET org_unit_id = :o WHERE id = :i"),
            {"o": mine["id"], "i": admin_of_mine.id},
        )
    forget_user(None, admin_of_mine.id)  # SQL, not the user service: drop the cached actor
    r = await client.post(
        f"{API}/exports", json={"org_unit_id": mine["id"], "year": 2024}, headers=headers
    )
    third = r.json()
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE app_user SET active = false WHERE id = :i"), {"i": admin_of_mine.id}
        )
    forget_user(None, admin_of_mine.id)  # SQL, not the user service: drop the cached actor
    await worker.work_once(maker, FAST)
    assert (await _job(engine, third["id"])).error_code == "export.requester_inactive"


async def test_the_job_route_checks_what_the_direct_route_checks(
    client: httpx.AsyncClient, client_for: Any
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    r = await client.post(f"{API}/exports", json={"org_unit_id": unit["id"], "year": 2199})
    assert (r.status_code, r.json()["code"]) == (422, "report.future_year")
    r = await client.post(f"{API}/exports", json={"org_unit_id": unit["id"], "format": "json"})
    assert r.status_code == 422
    own = await client_for(Role.cadre, cadre_id=cadre["id"])
    r = await own.post(f"{API}/exports", json={"org_unit_id": unit["id"]})
    assert r.status_code == 403
    for _ in range(5):
        r = await client.post(f"{API}/exports", json={"org_unit_id": unit["id"], "year": 2024})
        assert r.status_code == 202
    r = await client.post(f"{API}/exports", json={"org_unit_id": unit["id"], "year": 2024})
    assert (r.status_code, r.json()["code"]) == (429, "export.too_many_active")
    assert (await client.get(f"{API}/exports/{uuid.uuid4()}")).status_code == 404


async def test_a_retried_post_is_one_job_and_the_limit_holds_under_parallel_requests(
    committed_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """`Idempotency-Key` as on any POST: a retry (after a 503 at COMMIT, say) answers the
    first job, not a second one. Requests in parallel never get past the per-user limit."""
    client = committed_client
    unit = await create_org_unit(client)
    body = {"org_unit_id": unit["id"], "year": 2024}
    key = {"Idempotency-Key": "export-retry-1"}
    first = await client.post(f"{API}/exports", json=body, headers=key)
    again = await client.post(f"{API}/exports", json=body, headers=key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]

    limit = ExportSettings().max_active_per_user
    answers = await asyncio.gather(
        *(client.post(f"{API}/exports", json=body) for _ in range(2 * limit))
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] * (limit - 1) + [429] * (limit + 1)
    async with engine.connect() as conn:
        active = await conn.scalar(
            text("SELECT count(*) FROM export_job WHERE status IN ('queued', 'running')")
        )
    assert active == limit


# --- leases ------------------------------------------------------------------------------------


async def test_two_workers_never_take_the_same_job_and_a_dead_ones_job_is_taken_over(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    client = committed_client
    unit = await _unit_with_cadres(client, cadres=2)
    _, job = await _create(client, unit["id"])
    now = datetime.now(UTC)
    claims = await asyncio.gather(*(worker.claim(maker, FAST, now) for _ in range(4)))
    taken = [c for c in claims if c is not None]
    assert [c.id for c in taken] == [uuid.UUID(job["id"])]
    dead = taken[0]  # its worker dies: no heartbeat any more
    assert await worker.claim(maker, FAST, now + timedelta(seconds=1)) is None  # lease held
    after_lease = now + timedelta(seconds=FAST.lease_seconds + 1)
    successor = await worker.claim(maker, FAST, after_lease)
    assert successor is not None
    assert successor.id == dead.id
    await worker.run_job(maker, successor, FAST)
    # The dead worker wakes up: it lost the lease and writes nothing.
    await worker.run_job(maker, dead, FAST)
    assert dead.lost
    final = await _job(engine, job["id"])
    assert (final.status, final.attempts, final.rows_done) == ("succeeded", 2, 2)
    file = await client.get(f"{API}/exports/{job['id']}/file")
    assert hashlib.sha256(file.content).hexdigest() == final.sha256


async def test_a_worker_whose_lease_ran_out_while_it_still_runs_stops_at_its_next_write(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    """Interleaved: A runs; while it is between two rows its lease runs out (it stalled), B
    takes the job over and finishes it; A resumes and loses the lease at its next write,
    writing nothing more. B's file is whole and its checksum right. The heartbeat is far
    apart, so A's next write is what notices, not a heartbeat."""
    client = committed_client
    config = FAST.model_copy(
        update={"lease_seconds": 600, "heartbeat_seconds": 300, "progress_rows": 1}
    )
    unit = await _unit_with_cadres(client, cadres=4)
    _, job = await _create(client, unit["id"])
    a = await worker.claim(maker, config, datetime.now(UTC))
    assert a is not None
    seen: list[int] = []
    b_jobs: list[Any] = []

    async def a_stalls(rows: int) -> None:
        seen.append(rows)
        if rows != 1:
            return
        after_lease = datetime.now(UTC) + timedelta(seconds=config.lease_seconds + 1)
        b = await worker.claim(maker, config, after_lease)
        assert b is not None
        assert b.id == a.id
        await worker.run_job(maker, b, config)
        b_jobs.append(b)
        assert (await _job(engine, job["id"])).status == "succeeded"

    await worker.run_job(maker, a, config, progress=a_stalls)
    assert seen == [1]  # A wrote nothing after B took over
    assert a.lost
    assert not b_jobs[0].lost
    final = await _job(engine, job["id"])
    assert (final.status, final.attempts, final.rows_done) == ("succeeded", 2, 4)
    file = await client.get(f"{API}/exports/{job['id']}/file")
    direct = await client.get(f"{API}/org-units/{unit['id']}/archive", params={"year": 2024})
    assert file.content == direct.content
    assert hashlib.sha256(file.content).hexdigest() == final.sha256


async def test_a_job_whose_workers_keep_dying_fails(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    unit = await _unit_with_cadres(committed_client, cadres=1)
    _, job = await _create(committed_client, unit["id"])
    now = datetime.now(UTC)
    for attempt in range(FAST.max_attempts):
        at = now + timedelta(seconds=attempt * (FAST.lease_seconds + 1))
        assert await worker.claim(maker, FAST, at) is not None
    assert await worker.claim(maker, FAST, now + timedelta(hours=1)) is None
    final = await _job(engine, job["id"])
    assert (final.status, final.error_code) == ("failed", "export.attempts_exhausted")


@asynccontextmanager
async def _locked(engine: AsyncEngine, table: str) -> AsyncIterator[None]:
    async with engine.connect() as conn:
        await conn.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            await conn.rollback()


async def test_the_worker_hands_its_job_back_on_sigterm(
    committed_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings
) -> None:
    """A real `python -m app.cli export-worker`: while its job waits on the database, SIGTERM
    stops it within seconds and the job is queued again, lease cleared, no partial file."""
    unit = await _unit_with_cadres(committed_client, cadres=2)
    _, job = await _create(committed_client, unit["id"])
    env = {
        **os.environ,
        "DATABASE_URL": settings.async_database_url,
        "APP_ENV": "test",
        "APP_LOG_LEVEL": "WARNING",
        "APP_EXPORTS__POLL_INTERVAL_SECONDS": "0.1",
    }
    async with _locked(engine, "study_log"):  # the export's query waits for the lock
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "export-worker",
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while (await _job(engine, job["id"])).status != "running":
                assert proc.returncode is None
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 15)  # "within a few seconds"
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert code == 0
    back = await _job(engine, job["id"])
    assert (back.status, back.lease_token, back.lease_expires_at) == ("queued", None, None)
    assert back.attempts == 0  # stopping is not a failed attempt
    async with engine.connect() as conn:
        chunks = await conn.scalar(
            text("SELECT count(*) FROM export_chunk WHERE export_job_id = :i"), {"i": job["id"]}
        )
    assert chunks == 0


# A real export worker whose workbook save never ends (a province's XLSX takes a while to
# save; here it waits for good): openpyxl's save is replaced in that process only, and says when
# it has started.
_SLOW_SAVE_WORKER = """
import os, sys, threading
from pathlib import Path
from openpyxl.workbook.workbook import Workbook

def save(self, filename):
    Path(os.environ["SAVE_STARTED"]).touch()
    threading.Event().wait()

Workbook.save = save
from app.cli import main
main(["export-worker"])
"""


async def test_the_worker_stops_on_sigterm_while_a_thread_saves_a_workbook(
    committed_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    """SIGTERM while an XLSX is being saved in a thread (a thread cannot be cancelled): the
    worker hands the job back and exits, without waiting for the save. The timeout is a hang
    guard only: before, the process waited for the thread for good."""
    unit = await _unit_with_cadres(committed_client, cadres=2)
    _, job = await _create(committed_client, unit["id"], format="xlsx")
    started = tmp_path / "save-started"
    env = {
        **os.environ,
        "DATABASE_URL": settings.async_database_url,
        "APP_ENV": "test",
        "APP_LOG_LEVEL": "WARNING",
        "APP_EXPORTS__POLL_INTERVAL_SECONDS": "0.1",
        "SAVE_STARTED": str(started),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _SLOW_SAVE_WORKER,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60  # a hang guard only
        while not started.exists():
            assert proc.returncode is None
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0
    back = await _job(engine, job["id"])
    assert (back.status, back.lease_token, back.attempts) == ("queued", None, 0)


async def test_a_killed_workers_job_is_taken_over_once_its_heartbeat_stops(
    committed_client: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    """A real worker holds its job by heartbeat: its lease is pushed further while it runs,
    and no one else can take the job. Once it is killed (SIGKILL: no hand-back), the lease
    stays where the last heartbeat put it: no one takes the job before that instant, another
    worker takes it over after it and finishes it.

    No timing window: the lease (120 s) is far longer than any stall of the machine, and the
    takeover is tried at instants chosen around the lease's end instead of waited for."""
    lease = 120.0
    unit = await _unit_with_cadres(committed_client, cadres=2)
    _, job = await _create(committed_client, unit["id"])
    env = {
        **os.environ,
        "DATABASE_URL": settings.async_database_url,
        "APP_ENV": "test",
        "APP_LOG_LEVEL": "WARNING",
        "APP_EXPORTS__POLL_INTERVAL_SECONDS": "0.1",
        "APP_EXPORTS__LEASE_SECONDS": str(lease),
        "APP_EXPORTS__HEARTBEAT_SECONDS": "0.2",
    }
    config = FAST.model_copy(update={"lease_seconds": lease, "heartbeat_seconds": 0.2})
    async with _locked(engine, "study_log"):  # the job waits on the database, running
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "export-worker",
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60  # a hang guard only
            while (claimed := await _job(engine, job["id"])).status != "running":
                assert proc.returncode is None
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
            first_lease = claimed.lease_expires_at
            assert first_lease is not None
            # The heartbeat renews the lease: it moves on, twice.
            renewals: set[datetime] = set()
            while len(renewals) < 2:
                assert proc.returncode is None
                assert time.monotonic() < deadline
                until = (await _job(engine, job["id"])).lease_expires_at
                assert until is not None
                if until > first_lease:
                    renewals.add(until)
                assert await worker.claim(maker, config, datetime.now(UTC)) is None
                await asyncio.sleep(0.1)
            proc.kill()
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    dead = await _job(engine, job["id"])
    assert dead.status == "running"  # nobody handed it back
    held_until = dead.lease_expires_at
    assert held_until is not None
    assert held_until >= max(renewals)
    assert await worker.claim(maker, config, held_until - timedelta(seconds=1)) is None
    successor = await worker.claim(maker, config, held_until + timedelta(seconds=1))
    assert successor is not None
    assert successor.id == uuid.UUID(job["id"])
    await worker.run_job(maker, successor, config)
    final = await _job(engine, job["id"])
    assert (final.status, final.attempts, final.rows_done) == ("succeeded", 2, 2)
