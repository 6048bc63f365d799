"""Tested in a real browser (issue 12, "Browsers"): headless Chromium, Debian's `chromium`
package, loads a page served from another origin (tests/browser/) that, in plain `fetch`, logs
in, lists cadres, approves a pending study log with the `If-Match` it read from `ETag`, and
reads the problem answer of a stale `If-Match` with its `X-Request-ID`. A real uvicorn serves
the API with that origin allowed (APP_CORS__ALLOW_ORIGINS); a page from an origin that is not
allowed gets nothing. Playwright drives the browser; its own browsers are never downloaded.

Without /usr/bin/chromium the tests are skipped, and say so; under CI (`CI` set) they fail
instead: `.ci/run` installs the browser."""

import functools
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import CorsSettings, Settings
from app.db import create_sessionmaker
from app.enums import Role
from app.main import create_app
from tests.conftest import TEST_PASSWORD, add_user
from tests.factories import create_cadre, create_log, create_org_unit, unique
from tests.live_server import serving_in_thread

CHROMIUM = Path("/usr/bin/chromium")
PAGE = Path(__file__).parent / "browser"
# As root on a closed network: no sandbox, and none of Chromium's own calls home, which would
# hang or fail at start (the machine notes).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A guard against a hang only, never a measure of speed.
HANG_GUARD_MS = 60_000


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"no Chromium at {CHROMIUM}: apt-get install chromium"
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser test: .ci/run installs it)")
    pytest.skip(reason)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def static_site() -> Iterator[str]:
    """tests/browser/ on a port of 127.0.0.1 of its own: another origin than the API's."""
    handler = functools.partial(_QuietHandler, directory=str(PAGE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    _need_chromium()
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def county(committed_client: httpx.AsyncClient, engine: AsyncEngine) -> dict[str, str]:
    """A county with one cadre and a pending study log, and its administrator's username
    (password TEST_PASSWORD); committed, for a server of its own to see."""
    unit = await create_org_unit(committed_client, name="来安县", kind="county")
    cadre = await create_cadre(committed_client, unit["id"], name="李明")
    log = await create_log(committed_client, cadre["id"], status="pending")
    admin = await add_user(
        create_sessionmaker(engine),
        Role.org_admin,
        org_unit_id=unit["id"],
        username=unique("county-admin-"),
    )
    return {"username": admin.username, "log_id": log["id"], "cadre": cadre["name"]}


async def work_through(page: Page, site: str, api: str, username: str) -> dict[str, str]:
    """Open the page, log in through its form, wait for it to finish; what it showed, by id."""
    await page.goto(f"{site}/index.html?api={api}")
    await page.fill("#username", username)
    await page.fill("#password", TEST_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("#done:text('done')", timeout=HANG_GUARD_MS)
    shown: dict[str, str] = await page.eval_on_selector_all(
        "dd[id]", "els => Object.fromEntries(els.map(e => [e.id, e.textContent]))"
    )
    return shown


async def test_a_page_on_another_origin_works_through_a_county_administrators_day(
    browser: Browser, county: dict[str, str], settings: Settings
) -> None:
    with static_site() as site:
        allowed = settings.model_copy(update={"cors": CorsSettings(allow_origins=(site,))})
        with serving_in_thread(create_app(allowed)) as api:
            page = await browser.new_page()
            shown = await work_through(page, site, api, county["username"])
    assert shown["error"] == "", shown
    assert shown["login-status"] == "200"
    assert shown["cadres-status"] == "200"
    assert shown["cadres"] == county["cadre"]
    # The ETag was readable, so If-Match could be sent, and the approval went through.
    assert shown["etag"].startswith('"'), shown
    assert shown["approve-status"] == "200"
    assert shown["approved"] == "approved"
    assert shown["new-etag"] not in {"", "null", shown["etag"]}
    # The stale If-Match: a problem answer the page could read, header and body alike.
    assert shown["stale-status"] == "412"
    assert shown["stale-type"] == "application/problem+json"
    assert shown["stale-code"] == "precondition_failed"
    assert shown["stale-request-id"] not in {"", "null"}
    assert shown["stale-request-id"] == shown["stale-body-request-id"]


async def test_a_page_on_an_origin_not_allowed_reads_nothing(
    browser: Browser, county: dict[str, str], settings: Settings
) -> None:
    """The browser, not the test, enforces it: the login answer is withheld from the page."""
    with static_site() as site, static_site() as other:
        allowed = settings.model_copy(update={"cors": CorsSettings(allow_origins=(other,))})
        with serving_in_thread(create_app(allowed)) as api:
            page = await browser.new_page()
            shown = await work_through(page, site, api, county["username"])
    assert shown["error"] == "TypeError: Failed to fetch", shown
    assert shown["login-status"] == ""
