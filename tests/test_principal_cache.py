"""The principal cache (app/auth/principals.py, issue 16 lever 1): what it keeps, for how long,
and that a change made in this process reaches the next request at once. The revocation tests
of security round 2 (tests/test_auth_hardening.py: a password, role or deactivation ends the
tokens issued) run with the cache on, as every test does."""

import time
import uuid
from typing import Any

import httpx

from app.actor import Actor
from app.auth.principals import PrincipalCache, forget_scopes, forget_user
from app.auth.tokens import ExternalIdentity, Subject
from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit


def _actor(user_id: uuid.UUID, role: Role = Role.auditor) -> Actor:
    return Actor(user_id=user_id, username="u", role=role)


def test_an_actor_is_keyed_by_its_token_version() -> None:
    cache = PrincipalCache(seconds=60, size=10)
    user = uuid.uuid4()
    cache.keep_actor(Subject(user_id=user, token_version=1), _actor(user), cache.generation)
    assert cache.actor(Subject(user_id=user, token_version=1)) == _actor(user)
    assert cache.actor(Subject(user_id=user, token_version=0)) is None
    assert cache.actor(Subject(user_id=user, token_version=2)) is None


def test_an_external_identity_is_keyed_by_issuer_and_subject() -> None:
    cache = PrincipalCache(seconds=60, size=10)
    user = uuid.uuid4()
    ours = Subject(external=ExternalIdentity(issuer="https://idp", subject="42"))
    cache.keep_actor(ours, _actor(user), cache.generation)
    assert cache.actor(ours) == _actor(user)
    other = Subject(external=ExternalIdentity(issuer="https://other-idp", subject="42"))
    assert cache.actor(other) is None
    forget_user(None, user)
    assert cache.actor(ours) is None


def test_a_drop_reaches_every_cache_of_the_process_and_a_load_in_flight() -> None:
    first, second = PrincipalCache(seconds=60, size=10), PrincipalCache(seconds=60, size=10)
    user, other = uuid.uuid4(), uuid.uuid4()
    for cache in (first, second):
        cache.keep_actor(Subject(user_id=user, token_version=0), _actor(user), cache.generation)
        cache.keep_actor(Subject(user_id=other, token_version=0), _actor(other), cache.generation)
    loading = first.generation  # a request reads the user row now...
    forget_user(None, user)  # ...while another changes it
    assert first.actor(Subject(user_id=user, token_version=0)) is None
    assert second.actor(Subject(user_id=user, token_version=0)) is None
    assert second.actor(Subject(user_id=other, token_version=0)) == _actor(other)
    # The row read before the change is not kept.
    first.keep_actor(Subject(user_id=user, token_version=0), _actor(user), loading)
    assert first.actor(Subject(user_id=user, token_version=0)) is None
    forget_scopes(None)
    assert second.actor(Subject(user_id=other, token_version=0)) is None


def test_entries_end_with_their_lifetime_and_the_cache_is_bounded() -> None:
    cache = PrincipalCache(seconds=60, size=2)
    users = [uuid.uuid4() for _ in range(3)]
    for user in users:
        cache.keep_actor(Subject(user_id=user, token_version=0), _actor(user), cache.generation)
    assert cache.actor(Subject(user_id=users[0], token_version=0)) is None  # the oldest went
    assert cache.actor(Subject(user_id=users[2], token_version=0)) is not None
    expired = PrincipalCache(seconds=1e-9, size=2)
    expired.keep_actor(Subject(user_id=users[0], token_version=0), _actor(users[0]), 0)
    assert expired.actor(Subject(user_id=users[0], token_version=0)) is None


def test_zero_seconds_turns_both_caches_off() -> None:
    cache = PrincipalCache(seconds=0, size=10)
    user = uuid.uuid4()
    subject = Subject(user_id=user, token_version=0, expires_at=time.time() + 600)
    cache.keep_subject("token", subject, subject.expires_at)
    cache.keep_actor(subject, _actor(user), cache.generation)
    assert cache.subject("token") is None
    assert cache.actor(subject) is None


def test_a_verified_token_is_kept_until_its_exp_never_past_it() -> None:
    cache = PrincipalCache(seconds=5, size=10)
    subject = Subject(user_id=uuid.uuid4(), token_version=0)
    cache.keep_subject("live", subject, time.time() + 600)
    cache.keep_subject("expired", subject, time.time() - 1)
    cache.keep_subject("no exp", subject, None)
    assert cache.subject("live") == subject
    assert cache.subject("expired") is None
    assert cache.subject("no exp") is None


async def _me(c: httpx.AsyncClient) -> dict[str, Any]:
    r = await c.get(f"{API}/auth/me")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_moved_cadre_acts_in_its_new_unit_at_once(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    old_unit = await create_org_unit(client)
    new_unit = await create_org_unit(client)
    cadre = await create_cadre(client, old_unit["id"])
    me = await client_for(Role.cadre, cadre_id=cadre["id"])
    assert (await me.get(f"{API}/org-units/{old_unit['id']}")).status_code == 200  # cached
    r = await client.patch(f"{API}/cadres/{cadre['id']}", json={"org_unit_id": new_unit["id"]})
    assert r.status_code == 200, r.text
    assert (await me.get(f"{API}/org-units/{new_unit['id']}")).status_code == 200
    assert (await me.get(f"{API}/org-units/{old_unit['id']}")).status_code == 404


async def test_a_moved_unit_s_administrator_follows_it_at_once(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    left, right = await create_org_unit(client), await create_org_unit(client)
    unit = await create_org_unit(client, left["id"], kind="county")
    admin = await client_for(Role.org_admin, org_unit_id=unit["id"])
    assert (await admin.get(f"{API}/org-units/{unit['id']}")).status_code == 200  # cached
    r = await client.patch(f"{API}/org-units/{unit['id']}", json={"parent_id": right["id"]})
    assert r.status_code == 200, r.text
    child = await create_org_unit(client, unit["id"], kind="township")
    # Its subtree is now below `right`: a path kept from before the move would miss it.
    assert (await admin.get(f"{API}/org-units/{child['id']}")).status_code == 200


async def test_a_user_moved_to_another_unit_acts_there_at_once(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    first, second = await create_org_unit(client), await create_org_unit(client)
    admin = await client_for(Role.org_admin, org_unit_id=first["id"])
    me = await _me(admin)
    assert (await admin.get(f"{API}/org-units/{second['id']}")).status_code == 404  # cached
    r = await client.patch(f"{API}/users/{me['id']}", json={"org_unit_id": second["id"]})
    assert r.status_code == 200, r.text
    # The change raised the token version: the old token ends, as security round 2 asks.
    assert (await admin.get(f"{API}/org-units/{second['id']}")).status_code == 401
