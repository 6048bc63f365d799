"""Scope before uniqueness (issue 10): an org_admin cannot probe another county's HR ids, ID
numbers or study-log ids through which error a write answers. References to units and records
are checked before uniqueness, and a clash with a cadre the caller cannot see answers as little
as it can: the same answer for an HR id and an ID number, naming neither."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import (
    API,
    cadre_body,
    create_cadre,
    create_org_unit,
    create_session,
    log_body,
    unique,
)
from tests.test_platform import assert_problem


@dataclass
class Counties:
    mine: dict[str, Any]  # the org_admin's county
    theirs: dict[str, Any]  # a sibling county
    their_cadre: dict[str, Any]
    my_cadre: dict[str, Any]
    org_admin: httpx.AsyncClient


@pytest.fixture
async def c(client: httpx.AsyncClient, client_for: ClientFor) -> Counties:
    city = await create_org_unit(client)
    mine = await create_org_unit(client, city["id"], kind="county")
    theirs = await create_org_unit(client, city["id"], kind="county")
    return Counties(
        mine=mine,
        theirs=theirs,
        their_cadre=await create_cadre(client, theirs["id"]),
        my_cadre=await create_cadre(client, mine["id"]),
        org_admin=await client_for(Role.org_admin, org_unit_id=mine["id"]),
    )


def _answer(r: httpx.Response) -> tuple[int, str, str, str | None]:
    body = r.json()
    return r.status_code, body["code"], body["title"], body.get("detail")


# --- cadres -------------------------------------------------------------------------------------


async def test_an_invisible_cadres_hr_id_or_id_number_answers_alike(c: Counties) -> None:
    """Both clashes answer one 409 that names neither the field nor the cadre."""
    by_hr_id = await c.org_admin.post(
        f"{API}/cadres", json=cadre_body(c.mine["id"], hr_id=c.their_cadre["hr_id"])
    )
    by_number = await c.org_admin.post(
        f"{API}/cadres", json=cadre_body(c.mine["id"], id_number=c.their_cadre["id_number"])
    )
    assert_problem(by_hr_id, 409, "cadre.not_registrable")
    assert _answer(by_hr_id) == _answer(by_number)
    for r in (by_hr_id, by_number):
        assert c.their_cadre["hr_id"] not in r.text
        assert c.their_cadre["id"] not in r.text
        assert "errors" not in r.json() or not r.json()["errors"]


async def test_a_visible_cadres_clash_names_the_field(c: Counties) -> None:
    r = await c.org_admin.post(
        f"{API}/cadres", json=cadre_body(c.mine["id"], hr_id=c.my_cadre["hr_id"])
    )
    assert_problem(r, 409, "cadre.hr_id_taken")


async def test_the_org_unit_is_checked_before_uniqueness(c: Counties) -> None:
    """Naming the other county's unit answers the same 422 whether or not the HR id or the ID
    number is taken there."""
    answers = [
        await c.org_admin.post(f"{API}/cadres", json=cadre_body(c.theirs["id"], **fields))
        for fields in (
            {"hr_id": c.their_cadre["hr_id"]},
            {"id_number": c.their_cadre["id_number"]},
            {"hr_id": unique("HR")},
        )
    ]
    for r in answers:
        assert_problem(r, 422, "cadre.org_unit_not_found")
    assert len({_answer(r) for r in answers}) == 1


async def test_upsert_by_hr_id_checks_scope_before_uniqueness(c: Counties) -> None:
    url = f"{API}/cadres/by-hr-id/{unique('HR')}"
    clash = await c.org_admin.put(
        url, json=_upsert(cadre_body(c.mine["id"], id_number=c.their_cadre["id_number"]))
    )
    assert_problem(clash, 409, "cadre.not_registrable")
    elsewhere = await c.org_admin.put(
        url, json=_upsert(cadre_body(c.theirs["id"], id_number=c.their_cadre["id_number"]))
    )
    assert_problem(elsewhere, 422, "cadre.org_unit_not_found")


async def test_update_checks_scope_before_uniqueness(c: Counties) -> None:
    url = f"{API}/cadres/{c.my_cadre['id']}"
    clash = await c.org_admin.patch(url, json={"id_number": c.their_cadre["id_number"]})
    assert_problem(clash, 409, "cadre.not_registrable")
    moved = await c.org_admin.patch(
        url, json={"id_number": c.their_cadre["id_number"], "org_unit_id": c.theirs["id"]}
    )
    assert_problem(moved, 422, "cadre.org_unit_not_found")


def _upsert(body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    body.pop("hr_id", None)
    return body


# --- study logs ---------------------------------------------------------------------------------


async def test_a_study_log_id_taken_out_of_scope_is_not_found_whatever_the_body(
    client: httpx.AsyncClient, c: Counties
) -> None:
    """An id taken by another county's log answers 404, as every out-of-scope id does, whether
    the body names the org_admin's cadre or the other county's."""
    theirs = str(uuid.uuid4())
    r = await client.put(f"{API}/study-logs/{theirs}", json=log_body(c.their_cadre["id"]))
    assert r.status_code == 201, r.text
    for cadre in (c.my_cadre, c.their_cadre):
        r = await c.org_admin.put(f"{API}/study-logs/{theirs}", json=log_body(cadre["id"]))
        assert_problem(r, 404, "study_log.not_found")


async def test_a_study_logs_cadre_is_checked_before_its_body_is_compared(
    c: Counties,
) -> None:
    """Naming another county's cadre answers the same 422 under a fresh id and under an id of
    one's own already taken (not the 409 of a different body)."""
    mine = str(uuid.uuid4())
    r = await c.org_admin.put(f"{API}/study-logs/{mine}", json=log_body(c.my_cadre["id"]))
    assert r.status_code == 201, r.text
    body = log_body(c.their_cadre["id"])
    answers = [
        await c.org_admin.put(f"{API}/study-logs/{log_id}", json=body)
        for log_id in (mine, str(uuid.uuid4()))
    ]
    for a in answers:
        assert_problem(a, 422, "cadre.reference_not_found")
    assert _answer(answers[0]) == _answer(answers[1])


# --- enrollments --------------------------------------------------------------------------------


async def test_enrolling_an_invisible_cadre_answers_alike_enrolled_or_not(
    client: httpx.AsyncClient, c: Counties
) -> None:
    """The cadre is checked before "already enrolled": another county's cadre, enrolled or
    not, does not exist for the org_admin."""
    session = await create_session(client, c.mine["id"])
    url = f"{API}/training-sessions/{session['id']}/enrollments"
    r = await client.post(url, json={"cadre_id": c.their_cadre["id"]})
    assert r.status_code == 201, r.text
    other = await create_cadre(client, c.theirs["id"])
    enrolled = await c.org_admin.post(url, json={"cadre_id": c.their_cadre["id"]})
    not_enrolled = await c.org_admin.post(url, json={"cadre_id": other["id"]})
    assert_problem(enrolled, 422, "cadre.reference_not_found")
    assert _answer(enrolled) == _answer(not_enrolled)
