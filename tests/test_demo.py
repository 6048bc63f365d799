"""The demo data set of `make run` (devtools/demo) loads into an empty database, and what it
prints is what a person then sees: the demo logins work and the figures are there."""

from datetime import date

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.models import AuditEvent
from app.cadre.models import Cadre
from app.clock import pinned
from app.db import attribute
from app.study_log.models import StudyLog
from devtools.demo.data import seed_demo
from devtools.demo.users import DEMO_PASSWORD, ensure_demo_users, freeze_demo_snapshots

API = "/api/v1"


async def test_demo_loads_once_and_its_logins_work(
    isolated_sessionmaker: async_sessionmaker[AsyncSession], anonymous: httpx.AsyncClient
) -> None:
    with pinned(date(2026, 11, 30)):
        async with isolated_sessionmaker() as db_session:
            await attribute(db_session, request_id="devtools:demo")
            said: list[str] = []
            assert await seed_demo(db_session, progress=said.append) is True
            await freeze_demo_snapshots(db_session)
            logins = await ensure_demo_users(db_session)
            await db_session.commit()
        async with isolated_sessionmaker() as db_session:
            assert await seed_demo(db_session) is False  # never twice
            cadres = await db_session.scalar(select(func.count()).select_from(Cadre))
            logs = await db_session.scalar(select(func.count()).select_from(StudyLog))
            # Loaded by multi-row INSERTs, it is in the audit trail like every write.
            traced = await db_session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.request_id == "devtools:demo", AuditEvent.entity_type == "cadre")
            )
        # A long step says what it loads, step by step, with the counts (issue 12).
        assert said[0].startswith("building the demo data set")
        assert "[2/6] loading 300 cadres" in said
        assert [m.split(" loading ")[0] for m in said[1:]] == [f"[{n}/6]" for n in range(1, 7)]
        assert cadres == 300
        assert traced == 300
        assert logs is not None
        assert logs > 4000
        assert {login.username for login in logins} >= {"admin", "laian-admin", "cadre"}

        token = await anonymous.post(
            f"{API}/auth/token",
            data={"grant_type": "password", "username": "laian-admin", "password": DEMO_PASSWORD},
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        me = await anonymous.get(f"{API}/auth/me", headers=headers)
        assert me.status_code == 200, me.text
        unit = me.json()["org_unit_id"]
        report = await anonymous.get(
            f"{API}/reports/roll-call",
            params={"org_unit_id": unit, "year": 2026},
            headers=headers,
        )
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["quota"] >= 1
        assert body["candidates"], "the demo county has cadres to call"
        # Its classes have their default audience (docs/rules.md rule 11): the demo cadre sees
        # the classes it is for.
        token = await anonymous.post(
            f"{API}/auth/token",
            data={"grant_type": "password", "username": "cadre", "password": DEMO_PASSWORD},
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        sessions = await anonymous.get(f"{API}/training-sessions", headers=headers)
        assert sessions.json()["items"], "the demo cadre sees the classes it is for"
