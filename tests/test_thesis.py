"""Theses and reflections (调研文章 / 学习心得, docs/rules.md "Theses and reflections"): handed in
with a session or alone with a `thesis` study log, edited until graded, graded by the
organiser, read within scope."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_log, create_org_unit, create_session
from tests.test_platform import assert_problem


async def _enroll(client: httpx.AsyncClient, ts: dict[str, Any], cadre: dict[str, Any]) -> Any:
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _body(**fields: Any) -> dict[str, Any]:
    return {
        "kind": "thesis",
        "title": "关于基层干部教育培训的调研",
        "body": "第一段：调研的缘起。\n\n第二段：发现的问题。\n第三段：建议。",
        **fields,
    }


async def _class(client: httpx.AsyncClient, client_for: ClientFor) -> dict[str, Any]:
    """A county class with one trainee, who signs in as themself."""
    unit = await create_org_unit(client, name="来安县委组织部", kind="county")
    ts = await create_session(client, unit["id"])
    cadre = await create_cadre(client, unit["id"], name="张三丰")
    await _enroll(client, ts, cadre)
    me = await client_for(Role.cadre, cadre_id=cadre["id"])
    return {"unit": unit, "ts": ts, "cadre": cadre, "me": me}


async def test_a_trainee_hands_in_edits_until_graded_and_the_organiser_grades(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    c = await _class(client, client_for)
    me = c["me"]
    r = await me.post(f"{API}/theses", json=_body(training_session_id=c["ts"]["id"]))
    assert r.status_code == 201, r.text
    thesis = r.json()
    assert r.headers["location"] == f"{API}/theses/{thesis['id']}"
    assert (thesis["cadre_id"], thesis["grade"], thesis["graded_at"]) == (
        c["cadre"]["id"],
        None,
        None,
    )
    assert thesis["study_log_id"] is None

    r = await me.patch(
        f"{API}/theses/{thesis['id']}",
        json={"title": "关于基层干部教育培训质量的调研"},
        headers={"If-Match": f'"{thesis["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["title"], r.json()["body"]) == (
        "关于基层干部教育培训质量的调研",
        thesis["body"],
    )
    r = await me.patch(
        f"{API}/theses/{thesis['id']}",
        json={"body": "改过的正文"},
        headers={"If-Match": f'"{thesis["version"]}"'},
    )
    assert_problem(r, 412, "precondition_failed")

    organiser = await client_for(Role.org_admin, org_unit_id=c["unit"]["id"])
    r = await organiser.put(
        f"{API}/theses/{thesis['id']}/grade", json={"grade": "pass", "comment": "材料扎实"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["grade"], r.json()["grade_comment"]) == ("pass", "材料扎实")
    assert r.json()["graded_at"] is not None
    # Graded: the text is final.
    r = await me.patch(f"{API}/theses/{thesis['id']}", json={"body": "再改"})
    assert_problem(r, 409, "thesis.already_graded")
    # Graded again (a review): the grade changes, the comment with it.
    r = await organiser.put(f"{API}/theses/{thesis['id']}/grade", json={"grade": "excellent"})
    assert (r.json()["grade"], r.json()["grade_comment"]) == ("excellent", None)
    # The trainee sees the grade; the grading is in the audit trail, each time.
    assert (await me.get(f"{API}/theses/{thesis['id']}")).json()["grade"] == "excellent"
    events = (await client.get(f"{API}/audit-events", params={"entity_id": thesis["id"]})).json()
    changes = [e["changes"] for e in events["items"]]
    assert [e["action"] for e in events["items"]] == ["create", "update", "update", "update"]
    assert [c.get("grade") for c in changes[2:]] == [
        {"before": None, "after": "pass"},
        {"before": "pass", "after": "excellent"},
    ]


async def test_the_body_is_in_the_trail_as_changed_never_as_text(
    client: httpx.AsyncClient, client_for: ClientFor, db_conn: AsyncConnection
) -> None:
    """The text is personal writing of up to 50,000 characters: the trail records that it was
    written or changed, never the text itself (migration 0028); the change feed, which the HR
    system reads, carries no thesis at all (migration 0036)."""
    c = await _class(client, client_for)
    r = await c["me"].post(f"{API}/theses", json=_body(training_session_id=c["ts"]["id"]))
    thesis = r.json()
    await c["me"].patch(f"{API}/theses/{thesis['id']}", json={"body": "另一篇正文"})
    events = (await client.get(f"{API}/audit-events", params={"entity_id": thesis["id"]})).json()
    create, edit = (e["changes"] for e in events["items"])
    assert create["body"] == "<changed>"
    assert create["title"] == thesis["title"]
    assert edit == {"body": "<changed>"}
    in_feed = await db_conn.scalar(
        text("SELECT count(*) FROM change_event WHERE entity_id = :id"),
        {"id": uuid.UUID(thesis["id"])},
    )
    assert in_feed == 0


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        ("enrolled", True),
        ("confirmed", True),
        ("completed", True),
        ("withdrawn", False),
        ("waitlisted", False),
    ],
)
async def test_who_hands_in_with_a_session_by_enrollment_status(
    client: httpx.AsyncClient, client_for: ClientFor, status: str, allowed: bool
) -> None:
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], capacity=1)
    first = await create_cadre(client, unit["id"])
    cadre = await create_cadre(client, unit["id"], name="李四")
    if status == "waitlisted":
        await _enroll(client, ts, first)
        r = await client.post(
            f"{API}/training-sessions/{ts['id']}/enrollments",
            json={"cadre_id": cadre["id"], "origin": "self"},
        )
        assert r.json()["status"] == "waitlisted", r.text
    else:
        enrollment = await _enroll(client, ts, cadre)
        if status in ("confirmed", "withdrawn"):
            r = await client.patch(f"{API}/enrollments/{enrollment['id']}", json={"status": status})
            assert r.status_code == 200, r.text
        if status == "completed":
            r = await client.post(f"{API}/training-sessions/{ts['id']}/close")
            assert r.status_code == 200, r.text
    me = await client_for(Role.cadre, cadre_id=cadre["id"])
    r = await me.post(f"{API}/theses", json=_body(training_session_id=ts["id"]))
    if allowed:
        assert r.status_code == 201, r.text
    else:
        assert_problem(r, 409, "thesis.not_enrolled")


async def test_one_of_a_kind_per_cadre_and_session(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    c = await _class(client, client_for)
    body = _body(training_session_id=c["ts"]["id"])
    assert (await c["me"].post(f"{API}/theses", json=body)).status_code == 201
    assert_problem(await c["me"].post(f"{API}/theses", json=body), 409, "thesis.exists")
    # A reflection beside the thesis is another kind.
    r = await c["me"].post(f"{API}/theses", json={**body, "kind": "reflection"})
    assert r.status_code == 201, r.text


async def test_a_thesis_alone_names_the_cadre_s_own_thesis_log(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    other = await create_cadre(client, unit["id"], name="李四")
    own = await create_log(client, cadre["id"], kind="thesis", title="调研文章")
    online = await create_log(client, cadre["id"])
    others = await create_log(client, other["id"], kind="thesis", title="调研文章")
    voided = await create_log(client, cadre["id"], kind="thesis", title="作废的")
    assert (await client.post(f"{API}/study-logs/{voided['id']}/void")).status_code == 200
    me = await client_for(Role.cadre, cadre_id=cadre["id"])

    # Not a thesis log, not its own, voided: refused; another cadre's is not even visible.
    for log, status, code in (
        (online, 409, "thesis.not_thesis_log"),
        (voided, 409, "thesis.not_thesis_log"),
        (others, 422, "thesis.subject_reference_not_found"),
    ):
        r = await me.post(
            f"{API}/theses", json=_body(training_session_id=None, study_log_id=log["id"])
        )
        assert_problem(r, status, code)
    r = await client.post(
        f"{API}/theses",
        json=_body(cadre_id=cadre["id"], training_session_id=None, study_log_id=others["id"]),
    )
    assert_problem(r, 409, "thesis.not_thesis_log")

    r = await me.post(f"{API}/theses", json=_body(training_session_id=None, study_log_id=own["id"]))
    assert r.status_code == 201, r.text
    assert r.json()["training_session_id"] is None
    r = await me.post(
        f"{API}/theses",
        json=_body(training_session_id=None, study_log_id=own["id"], kind="reflection"),
    )
    assert_problem(r, 409, "thesis.exists")


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"title": ""}, "/body/title"),
        ({"title": "题" * 201}, "/body/title"),
        ({"body": ""}, "/body/body"),
        ({"body": " \n\t "}, "/body/body"),
        ({"body": "字" * 50_001}, "/body/body"),
        ({"body": "含\x00空字符"}, "/body/body"),
        ({"kind": "essay"}, "/body/kind"),
        ({"training_session_id": None}, "/body"),
        ({"study_log_id": "00000000-0000-0000-0000-000000000001"}, "/body"),
    ],
)
async def test_invalid_bodies_are_problems_never_500(
    client: httpx.AsyncClient, client_for: ClientFor, change: dict[str, Any], pointer: str
) -> None:
    c = await _class(client, client_for)
    body = {**_body(training_session_id=c["ts"]["id"]), **change}
    problem = assert_problem(
        await c["me"].post(f"{API}/theses", json=body), 422, "validation_failed"
    )
    assert pointer in {e["pointer"] for e in problem["errors"]}, problem


async def test_a_body_of_fifty_thousand_characters_is_kept_whole(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    c = await _class(client, client_for)
    text = "字" * 50_000
    r = await c["me"].post(
        f"{API}/theses", json=_body(training_session_id=c["ts"]["id"], body=text)
    )
    assert r.status_code == 201, r.text
    assert (await c["me"].get(f"{API}/theses/{r.json()['id']}")).json()["body"] == text


async def test_scope_who_reads_edits_and_grades(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """The city's organisation department organises a class for the counties: it reads and
    grades a county cadre's thesis but does not write it; the county's org_admin reads it (its
    cadre) and may correct it but not grade; another county sees nothing, another cadre
    nothing."""
    city = await create_org_unit(client, name="滁州市")
    dept = await create_org_unit(client, city["id"], kind="department", name="市委组织部")
    a = await create_org_unit(client, city["id"], kind="county", name="来安县")
    b = await create_org_unit(client, city["id"], kind="county", name="全椒县")
    ts = await create_session(client, dept["id"])
    organiser_unit_sibling = await create_org_unit(client, name="外市")
    cadre = await create_cadre(client, a["id"])
    neighbour = await create_cadre(client, a["id"], name="李四")
    await _enroll(client, ts, cadre)
    me = await client_for(Role.cadre, cadre_id=cadre["id"])
    thesis = (await me.post(f"{API}/theses", json=_body(training_session_id=ts["id"]))).json()
    url = f"{API}/theses/{thesis['id']}"

    readers = {
        "city": await client_for(Role.org_admin, org_unit_id=dept["id"]),
        "county a": await client_for(Role.org_admin, org_unit_id=a["id"]),
        "auditor": await client_for(Role.auditor),
    }
    for who, reader in readers.items():
        assert (await reader.get(url)).status_code == 200, who
        listed = (await reader.get(f"{API}/theses")).json()["items"]
        assert [t["id"] for t in listed] == [thesis["id"]], who
    strangers = {
        "county b": await client_for(Role.org_admin, org_unit_id=b["id"]),
        "elsewhere": await client_for(Role.org_admin, org_unit_id=organiser_unit_sibling["id"]),
        "neighbour": await client_for(Role.cadre, cadre_id=neighbour["id"]),
    }
    for who, stranger in strangers.items():
        assert_problem(await stranger.get(url), 404, "thesis.not_found")
        assert (await stranger.get(f"{API}/theses")).json()["items"] == [], who
    assert_problem(
        await strangers["county b"].put(f"{url}/grade", json={"grade": "fail"}),
        404,
        "thesis.not_found",
    )
    assert_problem(
        await strangers["neighbour"].patch(url, json={"title": "冒名"}), 404, "thesis.not_found"
    )
    # The county reads its cadre's thesis but does not organise the class: it may not grade.
    r = await readers["county a"].put(f"{url}/grade", json={"grade": "excellent"})
    assert_problem(r, 403, "thesis.not_grader")
    r = await readers["county a"].patch(url, json={"title": "代为修改的题目"})
    assert r.status_code == 200, r.text
    # The organiser grades; it does not write the trainee's text.
    r = await readers["city"].patch(url, json={"title": "组织者改的题目"})
    assert_problem(r, 403, "thesis.not_author")
    r = await readers["city"].put(f"{url}/grade", json={"grade": "excellent"})
    assert r.status_code == 200, r.text
    # A trainee does not grade, nor does an auditor (403 for the role).
    assert (await me.put(f"{url}/grade", json={"grade": "excellent"})).status_code == 403
    assert (await readers["auditor"].patch(url, json={"title": "x"})).status_code == 403


async def test_a_thesis_alone_is_graded_by_the_cadre_s_unit(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    city = await create_org_unit(client)
    a = await create_org_unit(client, city["id"], kind="county")
    b = await create_org_unit(client, city["id"], kind="county")
    cadre = await create_cadre(client, a["id"])
    log = await create_log(client, cadre["id"], kind="thesis", title="调研文章")
    r = await client.post(
        f"{API}/theses",
        json=_body(cadre_id=cadre["id"], training_session_id=None, study_log_id=log["id"]),
    )
    assert r.status_code == 201, r.text
    url = f"{API}/theses/{r.json()['id']}/grade"
    other = await client_for(Role.org_admin, org_unit_id=b["id"])
    assert_problem(await other.put(url, json={"grade": "pass"}), 404, "thesis.not_found")
    own = await client_for(Role.org_admin, org_unit_id=a["id"])
    assert (await own.put(url, json={"grade": "pass"})).json()["grade"] == "pass"


async def test_staff_hand_in_a_paper_only_for_cadres_in_their_subtree(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    c = await _class(client, client_for)
    elsewhere = await create_org_unit(client)
    stranger = await client_for(Role.org_admin, org_unit_id=elsewhere["id"])
    body = _body(cadre_id=c["cadre"]["id"], training_session_id=c["ts"]["id"])
    assert_problem(
        await stranger.post(f"{API}/theses", json=body), 422, "cadre.reference_not_found"
    )
    # Staff name the cadre; a cadre may not hand in another's.
    r = await client.post(f"{API}/theses", json=_body(training_session_id=c["ts"]["id"]))
    assert_problem(r, 422, "validation_failed")
    other = await create_cadre(client, c["unit"]["id"], name="李四")
    r = await c["me"].post(
        f"{API}/theses", json=_body(cadre_id=other["id"], training_session_id=c["ts"]["id"])
    )
    assert_problem(r, 422, "cadre.reference_not_found")
    own = await client_for(Role.org_admin, org_unit_id=c["unit"]["id"])
    assert (await own.post(f"{API}/theses", json=body)).status_code == 201


async def test_an_unknown_session_is_a_reference_problem(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    c = await _class(client, client_for)
    unknown = "00000000-0000-7000-8000-000000000001"
    r = await c["me"].post(f"{API}/theses", json=_body(training_session_id=unknown))
    problem = assert_problem(r, 422, "thesis.subject_reference_not_found")
    assert problem["errors"][0]["pointer"] == "/body/training_session_id"


async def test_lists_filter_by_session_year_unit_grade_and_kind(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    city = await create_org_unit(client)
    a = await create_org_unit(client, city["id"], kind="county")
    b = await create_org_unit(client, city["id"], kind="county")
    ts2025 = await create_session(client, city["id"])
    ts2026 = await create_session(
        client, city["id"], start_date="2026-03-02", end_date="2026-03-06"
    )
    x = await create_cadre(client, a["id"])
    y = await create_cadre(client, b["id"], name="李四")
    made = {}
    for name, cadre, ts, kind in (
        ("x25", x, ts2025, "thesis"),
        ("y25", y, ts2025, "reflection"),
        ("x26", x, ts2026, "thesis"),
    ):
        await _enroll(client, ts, cadre)
        r = await client.post(
            f"{API}/theses",
            json=_body(cadre_id=cadre["id"], training_session_id=ts["id"], kind=kind),
        )
        assert r.status_code == 201, r.text
        made[name] = r.json()["id"]
    log = await create_log(
        client, y["id"], kind="thesis", start_date="2026-05-01", end_date="2026-05-01"
    )
    r = await client.post(
        f"{API}/theses",
        json=_body(cadre_id=y["id"], training_session_id=None, study_log_id=log["id"]),
    )
    made["y26 alone"] = r.json()["id"]
    await client.put(f"{API}/theses/{made['x26']}/grade", json={"grade": "excellent"})

    async def names(**params: Any) -> set[str]:
        r = await client.get(f"{API}/theses", params=params)
        assert r.status_code == 200, r.text
        ids = {t["id"] for t in r.json()["items"]}
        return {n for n, i in made.items() if i in ids}

    assert await names(year=2025) == {"x25", "y25"}
    assert await names(year=2026) == {"x26", "y26 alone"}
    assert await names(training_session_id=ts2025["id"]) == {"x25", "y25"}
    assert await names(org_unit_id=a["id"]) == {"x25", "x26"}
    assert await names(cadre_id=y["id"]) == {"y25", "y26 alone"}
    assert await names(grade="excellent") == {"x26"}
    assert await names(kind="reflection") == {"y25"}
    assert await names(year=2026, org_unit_id=b["id"]) == {"y26 alone"}
    r = await client.get(f"{API}/theses", params={"limit": 2})
    assert len(r.json()["items"]) == 2
    assert r.json()["next_cursor"]
    unknown = "00000000-0000-7000-8000-000000000001"
    r = await client.get(f"{API}/theses", params={"org_unit_id": unknown})
    assert_problem(r, 404, "org_unit.not_found")
