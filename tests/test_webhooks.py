"""Webhooks: managing subscriptions through the API, and the worker delivering the change feed to a
real HTTP receiver on the loopback interface (no mocked transport), signed as Standard Webhooks,
in feed order, at least once, retried with back-off and never skipping an event."""

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import socket
import struct
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from app.audit.models import AuditEvent
from app.change_feed import service as change_feed
from app.config import WebhookSettings
from app.db import create_sessionmaker, transaction
from app.enums import Role
from app.idempotency.models import IdempotencyRecord
from app.webhook import worker
from app.webhook.models import WebhookDelivery, WebhookSubscription
from app.webhook.service import check_url
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_log, create_org_unit
from tests.test_platform import assert_problem

HOOKS = f"{API}/webhooks"


# --- a real receiver on 127.0.0.1 ---------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def message(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """Answers each POST with the next status of `statuses` (204 once they run out)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    gate: threading.Event | None = None  # when set up, each answer waits for it
    arrived: threading.Event = field(default_factory=threading.Event)  # a POST came in
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[tuple[str, str, str]]:
        return [
            (e["entity_type"], e["action"], e["entity_id"])
            for r in self.received
            for e in r.message["events"]
        ]


@contextmanager
def receiving(path: str = "/hooks") -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            with receiver.lock:
                receiver.received.append(Received(dict(self.headers.items()), body))
                receiver.arrived.set()
                status = receiver.statuses.pop(0) if receiver.statuses else 204
            if receiver.delay:
                threading.Event().wait(receiver.delay)
            if receiver.gate is not None:
                receiver.gate.wait(timeout=30)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"{receiver.url}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


# --- the worker, driven pass by pass ----------------------------------------------------------

# The receivers are on 127.0.0.1: loopback is allowed, as the test environment does.
FAST = WebhookSettings(timeout_seconds=5, connect_timeout_seconds=2, allow_loopback=True)


@pytest.fixture
def maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with worker.http_client(FAST) as c:
        yield c


async def drain(
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    now: datetime | None = None,
    settings: WebhookSettings = FAST,
) -> int:
    """Run passes until nothing advances; returns how many advanced."""
    total = 0
    for _ in range(50):
        advanced = await worker.deliver_once(maker, http, now, settings=settings)
        if not advanced:
            return total
        total += advanced
    raise AssertionError("the worker never became idle")


async def subscribe(client: httpx.AsyncClient, url: str, **fields: Any) -> dict[str, Any]:
    r = await client.post(HOOKS, json={"url": url, **fields})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def feed_after(client: httpx.AsyncClient, cursor: str) -> list[tuple[str, str, str]]:
    r = await client.get(f"{API}/changes", params={"cursor": cursor, "limit": 500})
    assert r.status_code == 200, r.text
    return [(i["entity_type"], i["action"], i["entity_id"]) for i in r.json()["items"]]


def secret_key(secret: str) -> bytes:
    assert secret.startswith("whsec_")
    return base64.b64decode(secret.removeprefix("whsec_"))


def signed_by(secret: str, received: Received) -> bool:
    """The Standard Webhooks signature, computed independently of the service's code."""
    h = received.headers
    content = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + received.body
    expected = base64.b64encode(hmac.new(secret_key(secret), content, hashlib.sha256).digest())
    return f"v1,{expected.decode()}" in h["webhook-signature"].split(" ")


# --- managing subscriptions -------------------------------------------------------------------


async def test_manage_a_subscription(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = await client.post(
        HOOKS,
        json={
            "url": "https://hr.example.org/hooks",
            "description": "省人社厅 HR",
            "entity_types": ["study_log", "cadre", "study_log"],
        },
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    secret = hook["secret"]
    assert len(secret_key(secret)) >= 24
    assert hook["entity_types"] == ["cadre", "study_log"]
    assert hook["active"] is True
    assert hook["attempts"] == 0
    assert created.headers["location"] == f"{HOOKS}/{hook['id']}"
    assert created.headers["etag"] == '"1"'

    one = await client.get(f"{HOOKS}/{hook['id']}")
    assert one.status_code == 200
    assert "secret" not in one.json()
    assert one.json()["cursor"] == hook["cursor"]
    listed = (await client.get(HOOKS)).json()
    assert [h["id"] for h in listed["items"]] == [hook["id"]]
    assert "secret" not in listed["items"][0]
    assert (await client.get(HOOKS, params={"active": "false"})).json()["items"] == []

    stale = await client.patch(
        f"{HOOKS}/{hook['id']}", json={"description": "x"}, headers={"If-Match": '"7"'}
    )
    assert_problem(stale, 412, "precondition_failed")
    patched = await client.patch(
        f"{HOOKS}/{hook['id']}",
        json={"description": None, "entity_types": [], "active": False},
        headers={"If-Match": one.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["description"] is None
    assert patched.json()["entity_types"] == []
    assert patched.json()["active"] is False
    assert patched.headers["etag"] == '"2"'

    rotated = await client.post(f"{HOOKS}/{hook['id']}/rotate-secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != secret
    assert rotated.json()["previous_secret_expires_at"] is not None
    assert "secret" not in (await client.get(f"{HOOKS}/{hook['id']}")).json()

    # Neither secret is stored or audited in clear.
    async with isolated_sessionmaker() as db_session:
        row = await db_session.get(WebhookSubscription, uuid.UUID(hook["id"]))
        assert row is not None
        stored = row.secret_ciphertext + (row.previous_secret_ciphertext or b"")
        trail = (
            await db_session.scalars(
                select(AuditEvent.changes).where(AuditEvent.entity_id == row.id)
            )
        ).all()
    for s in (secret, new_secret):
        assert secret_key(s) not in stored
        assert s.encode() not in stored
        assert s not in json.dumps(trail)
    # Created, patched, rotated: the secret's changes are recorded, never its value.
    assert len(trail) == 3
    assert sorted(c.get("secret", "") for c in trail) == ["", "<changed>", "<changed>"]
    assert [c["previous_secret"] for c in trail if "previous_secret" in c] == ["<changed>"]

    deleted = await client.delete(f"{HOOKS}/{hook['id']}", headers={"If-Match": '"3"'})
    assert deleted.status_code == 204, deleted.text
    assert_problem(await client.get(f"{HOOKS}/{hook['id']}"), 404, "webhook.not_found")
    assert_problem(await client.get(f"{HOOKS}/{hook['id']}/deliveries"), 404, "webhook.not_found")


async def test_an_idempotent_retry_shows_the_secret_again_but_never_stores_it_in_clear(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Idempotency-Key": "hook-1"}
    body = {"url": "https://hr.example.org/hooks"}
    first = await client.post(HOOKS, json=body, headers=headers)
    again = await client.post(HOOKS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len((await client.get(HOOKS)).json()["items"]) == 1
    async with isolated_sessionmaker() as db_session:
        stored = (await db_session.scalars(select(IdempotencyRecord.body))).all()
    assert stored
    assert all(first.json()["secret"].encode() not in b for b in stored)


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.admin, 200), (Role.hr_system, 200), (Role.auditor, 403), (Role.org_admin, 403)],
)
async def test_who_may_manage_webhooks(
    client: httpx.AsyncClient, client_for: ClientFor, role: Role, status: int
) -> None:
    unit = await create_org_unit(client) if role == Role.org_admin else None
    c = await client_for(role, org_unit_id=unit["id"] if unit else None)
    r = await c.get(HOOKS)
    assert r.status_code == status
    created = await c.post(HOOKS, json={"url": "https://hr.example.org/hooks"})
    if status == 200:
        assert created.status_code == 201
    else:
        assert_problem(created, 403, "forbidden")


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hr.example.org/hooks", "webhook.url_not_allowed"),
        ("http://localhost.example.org/hooks", "webhook.url_not_allowed"),
        ("http://10.0.0.7/hooks", "webhook.url_not_allowed"),
        ("ftp://hr.example.org/hooks", "validation_failed"),
        ("https://user:pass@hr.example.org/hooks", "validation_failed"),
        ("https://hr.example.org/hooks#top", "validation_failed"),
        ("https://hr.example.org:99999/hooks", "validation_failed"),
        ("https://[::1/hooks", "validation_failed"),
        ("https:///hooks", "validation_failed"),
        ("hr.example.org/hooks", "validation_failed"),
        ("https://hr.example.org/\x00", "validation_failed"),
        ("https://hr.example.org/" + "a" * 2000, "validation_failed"),
    ],
)
async def test_bad_urls_are_refused(client: httpx.AsyncClient, url: str, code: str) -> None:
    body = assert_problem(await client.post(HOOKS, json={"url": url}), 422, code)
    assert [e["pointer"] for e in body["errors"]] == ["/body/url"]
    created = await subscribe(client, "https://hr.example.org/hooks")
    r = await client.patch(f"{HOOKS}/{created['id']}", json={"url": url})
    assert_problem(r, 422, code)


@pytest.mark.parametrize(
    "url",
    [
        "https://hr.example.org/hooks?tenant=1",
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://[::1]:9000/hooks",
    ],
)
async def test_good_urls_are_accepted(client: httpx.AsyncClient, url: str) -> None:
    assert (await subscribe(client, url))["url"] == url


# url → (accepted where loopback is refused and 10.20.0.0/16 allowed, accepted with the
# defaults of the test environment: loopback allowed, no networks).
DESTINATIONS = [
    ("https://hr.example.org/h", True, True),  # names are checked at each delivery
    ("https://8.8.8.8/h", True, True),
    ("https://127.0.0.1/h", False, True),
    ("http://127.0.0.1:8080/h", False, True),
    ("http://localhost/h", False, True),
    ("https://[::1]/h", False, True),
    ("https://[::ffff:127.0.0.1]/h", False, True),  # IPv4-mapped loopback
    ("https://10.20.3.4/h", True, False),
    ("http://10.20.3.4/h", False, False),  # the intranet, but in clear
    ("https://10.21.0.1/h", False, False),
    ("https://192.168.1.1/h", False, False),
    ("https://169.254.169.254/latest/meta-data", False, False),  # cloud metadata
    ("https://0.0.0.0/h", False, False),
    ("https://224.0.0.1/h", False, False),  # multicast
    ("https://[fd00::1]/h", False, False),  # unique local
    ("https://[2002:808:808::1]/h", True, True),  # 6to4 of 8.8.8.8: judged as 8.8.8.8
    ("https://[2002:7f00:1::1]/h", False, True),  # 6to4 of 127.0.0.1
    ("https://[2002:a14:304::1]/h", True, False),  # 6to4 of 10.20.3.4
    ("https://[64:ff9b::a00:1]/h", False, False),  # NAT64 of 10.0.0.1: cannot be judged
    ("https://[::127.0.0.1]/h", False, False),  # IPv4-compatible
    ("https://[::ffff:0:7f00:1]/h", False, False),  # SIIT
]


@pytest.mark.parametrize(("url", "strict_ok", "default_ok"), DESTINATIONS)
def test_which_destinations_a_subscription_may_name(
    url: str, strict_ok: bool, default_ok: bool
) -> None:
    from app.webhook.errors import WebhookUrlNotAllowed

    strict = WebhookSettings(allow_loopback=False, allowed_networks=("10.20.0.0/16",))
    default = WebhookSettings(allow_loopback=True)
    for settings, ok in ((strict, strict_ok), (default, default_ok)):
        if ok:
            check_url(url, settings)
        else:
            with pytest.raises(WebhookUrlNotAllowed):
                check_url(url, settings)


# Addresses no receiver may have, whatever Python's `is_global` says of them (it calls the
# first four global), each with the range it stands for. Loopback is allowed, as in the tests.
NON_GLOBAL = [
    "fec0::1",  # site-local fec0::/10 (deprecated, but routed inside some networks)
    "feff:ffff::1",  # site-local, its end
    "3fff::1",  # documentation 3fff::/20
    "192.0.0.9",  # IETF protocol assignments 192.0.0.0/24
    "192.88.99.1",  # 6to4 relay anycast
    "2620:4f:8000::1",  # AS112
    "192.31.196.1",  # AS112
    "192.175.48.1",  # AS112
    "192.52.193.1",  # AMT
    "fc00::1",  # unique local fc00::/7
    "fd12:3456::1",
    "fe80::1",  # link-local
    "ff0e::1",  # multicast, global scope
    "::",  # unspecified
    "100::1",  # discard-only 100::/64
    "5f00::1",  # SRv6 SIDs (outside global unicast 2000::/3)
    "4000::1",  # unassigned, outside 2000::/3
    "2001:db8::1",  # documentation
    "2001:2::1",  # benchmarking
    "2001:10::1",  # ORCHID
    "2001:20::1",  # ORCHIDv2
    "2001:3::1",  # AMT
    "0.1.2.3",  # this network 0.0.0.0/8
    "10.1.2.3",
    "100.64.0.1",  # shared address space (CGNAT)
    "169.254.169.254",
    "172.16.0.1",
    "192.0.2.1",  # documentation
    "192.168.0.1",
    "198.18.0.1",  # benchmarking 198.18.0.0/15
    "198.19.255.254",
    "198.51.100.1",  # documentation
    "203.0.113.1",  # documentation
    "224.0.0.251",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::ffff:10.1.2.3",  # IPv4-mapped private
    "::ffff:198.18.0.1",  # IPv4-mapped benchmarking
    "2002:c000:0209::1",  # 6to4 of 192.0.2.9 (documentation)
    "2002:c612:1::1",  # 6to4 of 198.18.0.1 (benchmarking)
    "2002:c0a8:1::1",  # 6to4 of 192.168.0.1
    "2001:0:c000:209::f7f7:f7f7",  # Teredo, server 192.0.2.9, client 8.8.8.8
    "2001:0:808:808::f5ff:fcfe",  # Teredo, client 10.0.3.1 (obfuscated)
    "2001:0:808:808::3f57:fefe",  # Teredo, client 192.168.1.1 (obfuscated)
    "64:ff9b::808:808",  # NAT64: cannot be judged
]


@pytest.mark.parametrize("address", NON_GLOBAL)
def test_only_global_unicast_receivers_are_accepted(address: str) -> None:
    from app.webhook.errors import WebhookUrlNotAllowed
    from app.webhook.service import address_refused

    host = f"[{address}]" if ":" in address else address
    default = WebhookSettings(allow_loopback=True)
    assert address_refused(ipaddress.ip_address(address), default) is not None
    with pytest.raises(WebhookUrlNotAllowed):
        check_url(f"https://{host}/hooks", default)
    # ... unless the deployment names the network.
    network = ipaddress.ip_network(address)
    allowing = WebhookSettings(allow_loopback=False, allowed_networks=(network,))
    assert address_refused(ipaddress.ip_address(address), allowing) is None


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2606:4700::1111", "2002:808:808::1"],
)
def test_global_unicast_receivers_are_accepted(address: str) -> None:
    from app.webhook.service import address_refused

    settings = WebhookSettings(allow_loopback=False)
    assert address_refused(ipaddress.ip_address(address), settings) is None


def test_production_refuses_loopback_receivers_unless_told() -> None:
    from app.config import Environment, Settings

    # Production refuses the keys the repository publishes: these are made for the test.
    keys = {
        "secret_key": hashlib.sha256(b"webhook production test secret").hexdigest(),
        "data_key": base64.b64encode(hashlib.sha256(b"webhook production test").digest()).decode(),
    }
    production = Settings(env=Environment.production, **keys)  # type: ignore[arg-type]
    assert production.webhooks.allow_loopback is False
    assert Settings(env=Environment.test, **keys).webhooks.allow_loopback is True  # type: ignore[arg-type]
    told = Settings(
        env=Environment.production,
        webhooks=WebhookSettings(allow_loopback=True),
        **keys,  # type: ignore[arg-type]
    )
    assert told.webhooks.allow_loopback is True


async def test_a_name_is_delivered_to_the_address_that_was_checked(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    """The worker resolves the name, checks the address, connects to that address, and
    keeps the name for HTTP (and TLS): the receiver sees its own name in Host."""
    client = committed_client
    unit = await create_org_unit(client)
    url = receiver.url.replace("127.0.0.1", "localhost")
    await subscribe(client, url)
    cadre = await create_cadre(client, unit["id"])
    assert await drain(maker, http) == 1
    assert receiver.events() == [("cadre", "create", cadre["id"])]
    hosts = [v for k, v in receiver.received[0].headers.items() if k.lower() == "host"]
    assert hosts == [url.split("/")[2]]


async def test_a_name_that_cannot_be_resolved_is_refused(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    hook = await subscribe(client, "https://receiver.invalid/hooks")  # .invalid never resolves
    await create_cadre(client, unit["id"])
    assert await worker.deliver_once(maker, http, settings=FAST) == 0
    state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
    assert state["last_error"] == worker.COULD_NOT_DELIVER


async def test_a_name_that_resolves_inside_is_refused_at_delivery(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    """Registered while loopback was allowed, under a name; delivered after it no longer is:
    the name is resolved and checked again on every attempt."""
    client = committed_client
    unit = await create_org_unit(client)
    url = receiver.url.replace("127.0.0.1", "localhost")
    hook = await subscribe(client, url)
    await create_cadre(client, unit["id"])
    strict = FAST.model_copy(update={"allow_loopback": False})
    async with worker.http_client(strict) as http:
        assert await worker.deliver_once(maker, http, settings=strict) == 0
    assert receiver.received == []
    state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
    assert state["attempts"] == 1
    assert state["last_error"] == worker.COULD_NOT_DELIVER


# --- delivery -------------------------------------------------------------------------------


async def test_changes_are_delivered_once_in_order_and_signed(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    before = await create_cadre(client, unit["id"])  # before the subscription: not sent
    hook = await subscribe(client, receiver.url)
    cadre = await create_cadre(client, unit["id"])
    log = await create_log(client, cadre["id"])
    await client.post(f"{API}/study-logs/{log['id']}/approve")

    assert await drain(maker, http) == 1
    assert len(receiver.received) == 1
    sent = receiver.received[0]
    expected = await feed_after(client, hook["cursor"])
    assert receiver.events() == expected
    assert [e[2] for e in expected] == [cadre["id"], log["id"], log["id"]]
    assert before["id"] not in sent.body.decode()
    message = sent.message
    assert message["type"] == "changes"
    assert message["events"][0]["changes"]["id_number"] == "<changed>"
    # The message's cursor continues GET /changes right after its last event.
    assert await feed_after(client, message["cursor"]) == []

    # Signed as Standard Webhooks: checked by the reference library and by hand.
    assert Webhook(hook["secret"]).verify(sent.body, sent.headers) == message
    assert signed_by(hook["secret"], sent)
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["webhook-id"].startswith("msg_")
    assert int(sent.headers["webhook-timestamp"]) > 0

    # Nothing more to send: nothing is sent again.
    assert await drain(maker, http) == 0
    assert len(receiver.received) == 1
    state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
    assert state["cursor"] == message["cursor"]
    assert state["attempts"] == 0
    assert state["last_delivered_at"] is not None
    assert state["version"] == hook["version"]  # delivery state is not a configuration change
    log_page = (await client.get(f"{HOOKS}/{hook['id']}/deliveries")).json()
    assert [(d["succeeded"], d["status_code"], d["event_count"]) for d in log_page["items"]] == [
        (True, 204, 3)
    ]
    assert log_page["items"][0]["message_id"] == sent.headers["webhook-id"]


async def test_failures_are_retried_with_back_off_and_nothing_is_skipped(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    hook = await subscribe(client, receiver.url)
    first = await create_cadre(client, unit["id"])
    receiver.statuses = [500, 503]
    t0 = datetime.now(UTC)

    assert await worker.deliver_once(maker, http, t0, settings=FAST) == 0
    assert len(receiver.received) == 1
    state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
    assert state["attempts"] == 1
    assert state["last_error"] == "HTTP 500"
    assert state["cursor"] == hook["cursor"]  # not advanced
    due = datetime.fromisoformat(state["next_attempt_at"])
    assert t0 + timedelta(seconds=5) <= due <= t0 + timedelta(seconds=5.5)

    # A change written meanwhile waits for the pending message; not due yet: nothing is sent.
    second = await create_cadre(client, unit["id"])
    assert await worker.deliver_once(maker, http, t0 + timedelta(seconds=4), settings=FAST) == 0
    assert len(receiver.received) == 1

    t1 = t0 + timedelta(seconds=6)
    await worker.deliver_once(maker, http, t1, settings=FAST)
    assert len(receiver.received) == 2
    state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
    assert state["attempts"] == 2
    due = datetime.fromisoformat(state["next_attempt_at"])
    assert t1 + timedelta(minutes=5) <= due <= t1 + timedelta(minutes=5.5)
    # A retry is the same message: same id, same body (signed anew).
    a, b = receiver.received
    assert a.headers["webhook-id"] == b.headers["webhook-id"]
    assert a.body == b.body
    assert [e["entity_id"] for e in b.message["events"]] == [first["id"]]

    t2 = t1 + timedelta(minutes=6)
    assert await drain(maker, http, t2) == 2  # the pending message, then the next one
    accepted = receiver.received[2:]
    assert accepted[0].headers["webhook-id"] == a.headers["webhook-id"]
    delivered = [
        (e["entity_type"], e["action"], e["entity_id"])
        for r in accepted
        for e in r.message["events"]
    ]
    assert delivered == await feed_after(client, hook["cursor"])
    assert [e[2] for e in delivered] == [first["id"], second["id"]]
    attempts = (await client.get(f"{HOOKS}/{hook['id']}/deliveries")).json()["items"]
    # Newest first: the second message at its first attempt, the first message's three.
    assert [(d["attempt"], d["succeeded"], d["status_code"]) for d in attempts] == [
        (1, True, 204),
        (3, True, 204),
        (2, False, 503),
        (1, False, 500),
    ]
    # Walked page by page, newest first, the same attempts.
    first_page = (await client.get(f"{HOOKS}/{hook['id']}/deliveries", params={"limit": 3})).json()
    rest = (
        await client.get(
            f"{HOOKS}/{hook['id']}/deliveries", params={"cursor": first_page["next_cursor"]}
        )
    ).json()
    assert [d["id"] for d in first_page["items"] + rest["items"]] == [d["id"] for d in attempts]
    assert rest["next_cursor"] is None


async def test_exhausted_retries_disable_the_subscription_which_resumes_where_it_stopped(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    engine: AsyncEngine,
) -> None:
    client = committed_client
    settings = FAST.model_copy(update={"max_attempts": 3, "retry_schedule_seconds": (5, 60)})
    unit = await create_org_unit(client)
    hook = await subscribe(client, receiver.url)
    cadre = await create_cadre(client, unit["id"])
    receiver.statuses = [500, 500, 500]
    now = datetime.now(UTC)
    for step in (0, 6, 6 + 70):
        await worker.deliver_once(maker, http, now + timedelta(seconds=step), settings=settings)
    assert len(receiver.received) == 3
    state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
    assert state["active"] is False
    assert state["disabled_reason"] == "Delivery failed 3 times in a row; last: HTTP 500"
    assert state["version"] == hook["version"] + 1  # a change of configuration: new ETag
    assert state["cursor"] == hook["cursor"]
    async with engine.connect() as conn:
        audited = (
            await conn.execute(
                select(AuditEvent.request_id, AuditEvent.changes).where(
                    AuditEvent.entity_id == uuid.UUID(hook["id"]),
                    AuditEvent.request_id == worker.WORKER_REQUEST_ID,
                )
            )
        ).all()
    assert [row.changes["active"] for row in audited] == [{"before": True, "after": False}]

    # Disabled: nothing more is sent, however late it gets.
    later = now + timedelta(days=2)
    assert await drain(maker, http, later, settings=settings) == 0
    assert len(receiver.received) == 3

    # Re-enabled (with the ETag the worker's change produced): the same message, then on.
    stale = await client.patch(
        f"{HOOKS}/{hook['id']}", json={"active": True}, headers={"If-Match": '"1"'}
    )
    assert_problem(stale, 412, "precondition_failed")
    resumed = await client.patch(
        f"{HOOKS}/{hook['id']}",
        json={"active": True},
        headers={"If-Match": f'"{state["version"]}"'},
    )
    assert resumed.json()["attempts"] == 0
    assert resumed.json()["disabled_reason"] is None
    assert await drain(maker, http, later, settings=settings) == 1
    last = receiver.received[-1]
    assert last.headers["webhook-id"] == receiver.received[0].headers["webhook-id"]
    assert [e["entity_id"] for e in last.message["events"]] == [cadre["id"]]


async def test_entity_types_filter_what_is_sent(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    with receiving("/logs") as logs_only, receiving("/all") as everything:
        logs_hook = await subscribe(client, logs_only.url, entity_types=["study_log"])
        all_hook = await subscribe(client, everything.url)
        cadre = await create_cadre(client, unit["id"])
        # Only a cadre so far: the logs-only receiver is passed over, without a message.
        await drain(maker, http)
        assert logs_only.received == []
        assert len(everything.received) == 1
        state = (await client.get(f"{HOOKS}/{logs_hook['id']}")).json()
        assert state["cursor"] != logs_hook["cursor"]

        log = await create_log(client, cadre["id"])
        await client.patch(f"{API}/cadres/{cadre['id']}", json={"position": "副科长"})
        # Both found nothing new at the end of the first drain: each is looked at again a
        # poll interval later, not at once.
        assert await worker.deliver_once(maker, http, settings=FAST) == 0
        later = datetime.now(UTC) + timedelta(seconds=FAST.poll_interval_seconds)
        await drain(maker, http, later)
    assert logs_only.events() == [("study_log", "create", log["id"])]
    assert everything.events() == await feed_after(client, all_hook["cursor"])
    assert [e[0] for e in everything.events()] == ["cadre", "study_log", "cadre"]
    # Both end at the same place in the feed.
    ends = {
        (await client.get(f"{HOOKS}/{h['id']}")).json()["cursor"] for h in (logs_hook, all_hook)
    }
    assert len(ends) == 1


async def test_a_change_made_during_a_delivery_drops_that_attempts_outcome(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    hook = await subscribe(client, receiver.url)
    cadre = await create_cadre(client, unit["id"])
    receiver.statuses = [500]
    receiver.gate = threading.Event()
    delivery = asyncio.create_task(worker.deliver_once(maker, http, settings=FAST))
    # The worker is now waiting for the old receiver's answer.
    assert await asyncio.to_thread(receiver.arrived.wait, 30)
    with receiving("/new") as moved:
        r = await client.patch(f"{HOOKS}/{hook['id']}", json={"url": moved.url})
        assert r.status_code == 200, r.text
        receiver.gate.set()
        assert await delivery == 0
        # The old URL's 500 is not held against the new one: no attempt counted, due now.
        state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
        assert (state["attempts"], state["last_error"]) == (0, None)
        await drain(maker, http)
    assert moved.events() == [("cadre", "create", cadre["id"])]


async def test_a_paused_subscription_gets_nothing(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    hook = await subscribe(client, receiver.url, active=False)
    cadre = await create_cadre(client, unit["id"])
    assert await drain(maker, http) == 0
    assert receiver.received == []
    assert (await client.get(f"{HOOKS}/{hook['id']}")).json()["cursor"] == hook["cursor"]
    # Resumed: what happened while paused is delivered, nothing skipped.
    await client.patch(f"{HOOKS}/{hook['id']}", json={"active": True})
    await drain(maker, http)
    assert receiver.events() == [("cadre", "create", cadre["id"])]


async def test_two_workers_deliver_each_message_once(
    committed_client: httpx.AsyncClient,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    client = committed_client
    small = FAST.model_copy(update={"batch_size": 2, "subscriptions_per_pass": 2})
    unit = await create_org_unit(client)
    with receiving("/a") as a, receiving("/b") as b, receiving("/c") as c:
        hooks = [await subscribe(client, r.url) for r in (a, b, c)]
        cadres = [await create_cadre(client, unit["id"]) for _ in range(7)]

        async def work() -> int:
            async with worker.http_client(small) as own:
                return await drain(maker, own, settings=small)

        results = await asyncio.gather(work(), work())
    assert sum(results) == 3 * 4  # 7 events in messages of 2: four per subscription
    expected = [("cadre", "create", x["id"]) for x in cadres]
    for receiver, hook in zip((a, b, c), hooks, strict=True):
        assert receiver.events() == expected
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert len(ids) == len(set(ids)) == 4
        assert await feed_after(client, hook["cursor"]) == expected


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("redirect", "HTTP 307"),
        ("gone", "could not deliver"),
        ("slow", "could not deliver"),
        ("client_error", "HTTP 400"),
    ],
)
async def test_what_counts_as_a_failed_attempt(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    behaviour: str,
    error: str,
) -> None:
    client = committed_client
    settings = FAST.model_copy(update={"timeout_seconds": 0.5})
    url = receiver.url
    if behaviour == "redirect":
        receiver.statuses = [307]
    elif behaviour == "client_error":
        receiver.statuses = [400]
    elif behaviour == "slow":
        receiver.delay = 2
    else:
        with receiving() as closed:
            url = closed.url  # nobody listens there any more
    unit = await create_org_unit(client)
    hook = await subscribe(client, url)
    await create_cadre(client, unit["id"])
    async with worker.http_client(settings) as http:
        assert await worker.deliver_once(maker, http, settings=settings) == 0
    state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
    assert state["attempts"] == 1
    assert error in state["last_error"]
    assert state["cursor"] == hook["cursor"]
    attempts = (await client.get(f"{HOOKS}/{hook['id']}/deliveries")).json()["items"]
    assert [(d["succeeded"], error in d["error"]) for d in attempts] == [(False, True)]
    if behaviour == "redirect":
        assert len(receiver.received) == 1  # the redirect was not followed


async def test_after_a_rotation_both_secrets_sign(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    hook = await subscribe(client, receiver.url)
    new_secret = (await client.post(f"{HOOKS}/{hook['id']}/rotate-secret")).json()["secret"]
    await create_cadre(client, unit["id"])
    await drain(maker, http)
    (sent,) = receiver.received
    assert len(sent.headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], new_secret):
        Webhook(secret).verify(sent.body, sent.headers)
        assert signed_by(secret, sent)


async def test_a_subscription_the_feed_was_pruned_past_is_disabled(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    hook = await subscribe(client, receiver.url, active=False)
    await create_cadre(client, unit["id"])
    async with transaction(maker) as db_session:
        assert await change_feed.prune(db_session, retention_days=0) >= 1
    await client.patch(f"{HOOKS}/{hook['id']}", json={"active": True})
    assert await drain(maker, http) == 0
    assert receiver.received == []
    state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
    assert state["active"] is False
    assert "pruned" in state["disabled_reason"]


async def test_old_delivery_attempts_are_pruned(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    hook = await subscribe(client, receiver.url)
    await create_cadre(client, unit["id"])
    now = datetime.now(UTC)
    receiver.statuses = [500]
    await worker.deliver_once(maker, http, now, settings=FAST)
    later = now + timedelta(days=35)
    await drain(maker, http, later)
    async with transaction(maker) as db_session:
        # Kept 30 days: 35 days later the failed attempt goes, the successful one stays.
        assert await worker.prune_deliveries(db_session, 30, later) == 1
    async with maker() as db_session:
        kept = (
            await db_session.scalars(
                select(WebhookDelivery.succeeded).where(
                    WebhookDelivery.subscription_id == uuid.UUID(hook["id"])
                )
            )
        ).all()
    assert kept == [True]


async def test_deleting_a_subscription_removes_its_delivery_log(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    hook = await subscribe(client, receiver.url)
    await create_cadre(client, unit["id"])
    await drain(maker, http)
    assert (await client.delete(f"{HOOKS}/{hook['id']}")).status_code == 204
    async with maker() as db_session:
        left = await db_session.scalar(select(func.count()).select_from(WebhookDelivery))
    assert left == 0


async def test_a_secret_that_cannot_be_decrypted_disables_until_rotated(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    hook = await subscribe(client, receiver.url)
    cadre = await create_cadre(client, unit["id"])
    async with transaction(maker) as db_session:  # as if APP_DATA_KEY had changed
        row = await db_session.get(WebhookSubscription, uuid.UUID(hook["id"]))
        assert row is not None
        row.secret_ciphertext = bytes(reversed(row.secret_ciphertext))
    assert await drain(maker, http) == 0
    assert receiver.received == []
    state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
    assert state["active"] is False
    assert "cannot be decrypted" in state["disabled_reason"]

    secret = (await client.post(f"{HOOKS}/{hook['id']}/rotate-secret")).json()["secret"]
    await client.patch(f"{HOOKS}/{hook['id']}", json={"active": True})
    assert await drain(maker, http) == 1
    (sent,) = receiver.received
    assert sent.headers["webhook-signature"].count("v1,") == 1  # the unreadable one is dropped
    Webhook(secret).verify(sent.body, sent.headers)
    assert receiver.events() == [("cadre", "create", cadre["id"])]


@contextmanager
def raw_listener(behaviour: str) -> Iterator[str]:
    """A TCP listener on 127.0.0.1 that is no HTTP receiver: `reset` closes each connection at
    once (RST), `silent` accepts and never answers, `banner` answers another protocol's greeting
    and hangs up. Yields its http URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            if behaviour == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif behaviour == "banner":
                conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    finally:
        stop.set()
        thread.join(timeout=10)
        for conn in held:
            conn.close()
        listener.close()


async def test_the_delivery_log_is_no_port_scanner(
    committed_client: httpx.AsyncClient,
    receiver: Receiver,
    maker: async_sessionmaker[AsyncSession],
) -> None:
    """A closed port, a port that resets, one that never answers, one that speaks another
    protocol, and a name that does not resolve all read alike: `could not deliver`, no status,
    no duration. Only a receiver that answered HTTP shows its status (issue 10)."""
    client = committed_client
    settings = FAST.model_copy(update={"timeout_seconds": 0.5})
    receiver.statuses = [503]
    with receiving() as closed:
        closed_url = closed.url  # nobody listens there any more
    with (
        raw_listener("reset") as reset,
        raw_listener("silent") as silent,
        raw_listener("banner") as banner,
    ):
        targets = {
            "closed": closed_url,
            "reset": reset,
            "silent": silent,
            "banner": banner,
            "unresolvable": "https://receiver.invalid/hooks",
            "http": receiver.url,
        }
        hooks = {name: await subscribe(client, url) for name, url in targets.items()}
        unit = await create_org_unit(client)
        await create_cadre(client, unit["id"])
        async with worker.http_client(settings) as http:
            assert await worker.deliver_once(maker, http, settings=settings) == 0
    seen = {}
    for name, hook in hooks.items():
        state = (await client.get(f"{HOOKS}/{hook['id']}")).json()
        (attempt,) = (await client.get(f"{HOOKS}/{hook['id']}/deliveries")).json()["items"]
        seen[name] = (
            state["last_error"],
            attempt["error"],
            attempt["status_code"],
            attempt["duration_ms"] is None,
            attempt["succeeded"],
        )
    unreachable = ("could not deliver", "could not deliver", None, True, False)
    assert seen == {
        "closed": unreachable,
        "reset": unreachable,
        "silent": unreachable,
        "banner": unreachable,
        "unresolvable": unreachable,
        "http": ("HTTP 503", "HTTP 503", 503, False, False),
    }
