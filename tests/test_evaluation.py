"""Anonymous evaluation (docs/evaluation.md, docs/rules.md rule 14): forms and their revisions,
attaching a form to a session, the window, who may answer and what an answer must hold."""

from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.clock import pinned
from app.enums import Role
from tests.conftest import ClientFor
from tests.evaluation_factories import (
    FORMS,
    INDICATORS,
    Klass,
    close_session,
    create_form,
    evaluated_class,
    form_body,
)
from tests.factories import API, create_cadre, create_org_unit
from tests.test_platform import assert_problem

# --- forms --------------------------------------------------------------------------------------


async def test_a_form_is_created_as_revision_1_with_positions_per_subject(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    r = await client.post(FORMS, json=form_body(unit["id"]))
    assert r.status_code == 201, r.text
    form = r.json()
    assert r.headers["location"] == f"{FORMS}/{form['id']}"
    assert r.headers["etag"] == '"1"'
    assert (form["revision"], form["lineage_id"], form["active"]) == (1, form["id"], True)
    assert [(i["subject"], i["position"], i["code"], i["weight"]) for i in form["indicators"]] == [
        ("session", 1, "content", "3.00"),
        ("session", 2, "organisation", "2.00"),
        ("session", 3, "facilities", "1.00"),
        ("course", 1, "content", "1.00"),
        ("course", 2, "usefulness", "1.00"),
        ("teacher", 1, "delivery", "2.00"),
        ("teacher", 2, "preparation", "1.00"),
    ]
    assert (await client.get(f"{FORMS}/{form['id']}")).json() == form


async def test_editing_a_form_adds_a_revision_and_the_list_shows_the_latest(
    client: httpx.AsyncClient,
) -> None:
    unit = await create_org_unit(client)
    first = await create_form(client, unit["id"])
    body = {"name": "评估表（修订）", "allow_comments": False, "indicators": INDICATORS[:2]}
    r = await client.post(f"{FORMS}/{first['id']}/revisions", json=body)
    assert r.status_code == 201, r.text
    second = r.json()
    assert (second["revision"], second["lineage_id"], second["allow_comments"]) == (
        2,
        first["id"],
        False,
    )
    # Any revision names the lineage: the next is 3.
    r = await client.post(f"{FORMS}/{first['id']}/revisions", json=body)
    assert r.json()["revision"] == 3
    listed = (await client.get(FORMS, params={"org_unit_id": unit["id"]})).json()["items"]
    assert [(f["lineage_id"], f["revision"]) for f in listed] == [(first["id"], 3)]
    every = (
        await client.get(FORMS, params={"org_unit_id": unit["id"], "all_revisions": "true"})
    ).json()["items"]
    assert sorted(f["revision"] for f in every) == [1, 2, 3]
    # Revision 1 is unchanged: a revision never changes once created.
    assert (await client.get(f"{FORMS}/{first['id']}")).json() == first


async def test_a_form_is_deactivated_under_if_match(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    form = await create_form(client, unit["id"])
    r = await client.patch(
        f"{FORMS}/{form['id']}", json={"active": False}, headers={"If-Match": '"7"'}
    )
    assert_problem(r, 412, "precondition_failed")
    r = await client.patch(
        f"{FORMS}/{form['id']}", json={"active": False}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["active"], r.headers["etag"]) == (False, '"2"')
    # Only `active` changes.
    assert_problem(
        await client.patch(f"{FORMS}/{form['id']}", json={"name": "x"}), 422, "validation_failed"
    )
    listed = (await client.get(FORMS, params={"active": "false"})).json()["items"]
    assert form["id"] in {f["id"] for f in listed}


@pytest.mark.parametrize(
    ("indicators", "code", "pointer"),
    [
        # no session indicator
        ([INDICATORS[3]], "evaluation.invalid_indicators", "/body/indicators"),
        # a code twice for one subject
        (
            [INDICATORS[0], INDICATORS[0]],
            "evaluation.invalid_indicators",
            "/body/indicators/1/code",
        ),
        ([], "validation_failed", "/body/indicators"),
        ([{**INDICATORS[0], "weight": 0}], "validation_failed", "/body/indicators/0/weight"),
        ([{**INDICATORS[0], "weight": "100.01"}], "validation_failed", "/body/indicators/0/weight"),
        ([{**INDICATORS[0], "weight": 2.5}], "validation_failed", "/body/indicators/0/weight"),
        ([{**INDICATORS[0], "subject": "provider"}], "validation_failed", None),
        ([{**INDICATORS[0], "code": "有 空格"}], "validation_failed", None),
        ([{**INDICATORS[0], "scale": 10}], "validation_failed", None),
    ],
)
async def test_bad_forms_are_problems(
    client: httpx.AsyncClient, indicators: list[dict[str, Any]], code: str, pointer: str | None
) -> None:
    unit = await create_org_unit(client)
    r = await client.post(FORMS, json=form_body(unit["id"], indicators=indicators))
    body = assert_problem(r, 422, code)
    if pointer is not None:
        assert pointer in {e["pointer"] for e in body["errors"]}
    assert (await client.get(FORMS, params={"org_unit_id": unit["id"]})).json()["items"] == []


async def test_weight_100_is_the_most(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    body = form_body(unit["id"], indicators=[{**INDICATORS[0], "weight": "100.00"}])
    assert (await client.post(FORMS, json=body)).json()["indicators"][0]["weight"] == "100.00"


async def test_forms_are_scoped_by_the_org_tree(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county", name="来安县")
    sibling = await create_org_unit(client, city["id"], kind="county", name="全椒县")
    city_form = await create_form(client, city["id"])
    county_admin = await client_for(Role.org_admin, org_unit_id=county["id"])
    sibling_admin = await client_for(Role.org_admin, org_unit_id=sibling["id"])
    r = await county_admin.post(FORMS, json=form_body(county["id"]))
    assert r.status_code == 201, r.text
    county_form = r.json()
    # Its own and its ancestors' forms (those its sessions may use), not a sibling's.
    seen = {f["id"] for f in (await county_admin.get(FORMS)).json()["items"]}
    assert seen == {city_form["id"], county_form["id"]}
    assert_problem(
        await sibling_admin.get(f"{FORMS}/{county_form['id']}"), 404, "evaluation.form_not_found"
    )
    # Reading the city's form is not managing it.
    body = {"name": "改", "allow_comments": True, "indicators": INDICATORS}
    assert_problem(
        await county_admin.post(f"{FORMS}/{city_form['id']}/revisions", json=body),
        403,
        "evaluation.not_form_manager",
    )
    assert_problem(
        await county_admin.patch(f"{FORMS}/{city_form['id']}", json={"active": False}),
        403,
        "evaluation.not_form_manager",
    )
    assert_problem(
        await county_admin.post(FORMS, json=form_body(city["id"])),
        422,
        "org_unit.reference_not_found",
    )
    auditor = await client_for(Role.auditor)
    assert len((await auditor.get(FORMS)).json()["items"]) >= 2
    assert_problem(await auditor.post(FORMS, json=form_body(city["id"])), 403, "forbidden")
    cadre = await create_cadre(client, county["id"])
    trainee = await client_for(Role.cadre, cadre_id=cadre["id"])
    assert_problem(await trainee.get(FORMS), 403, "forbidden")


# --- attaching a form to a session --------------------------------------------------------------


@pytest.fixture
async def unit(client: httpx.AsyncClient) -> dict[str, Any]:
    return await create_org_unit(client)


async def test_attach_and_read_the_evaluation(
    client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]
) -> None:
    klass = await evaluated_class(client, client_for, unit["id"], 2)
    r = await client.get(klass.url)
    assert r.status_code == 200, r.text
    got = r.json()
    assert r.headers["etag"] == '"1"'
    assert got["form"]["id"] == klass.form["id"]
    assert (got["status"], got["opens_on"], got["closes_on"], got["open_days"]) == (
        "scheduled",
        None,
        None,
        14,
    )
    assert (got["opened_early"], got["closed_early"], got["me"]) == (False, False, None)
    assert [(s["subject"], s["subject_id"], s["label"]) for s in got["subjects"]] == [
        ("session", klass.ts["id"], klass.ts["title"]),
        ("course", klass.courses[0]["id"], "党史专题"),
        ("course", klass.courses[1]["id"], "公文写作"),
        ("teacher", klass.teachers[0]["id"], "李老师"),
        ("teacher", klass.teachers[1]["id"], "王老师"),
    ]
    # Before the close nobody may answer yet (not opened early).
    assert (got["answered_count"], got["eligible_count"]) == (0, 0)
    me = (await klass.trainees[0].get(klass.url)).json()["me"]
    assert me == {"may_answer": False, "has_answered": False}
    await close_session(client, klass)
    got = (await client.get(klass.url)).json()
    today = (await client.get(f"{API}/training-sessions/{klass.ts['id']}")).json()["closed_on"]
    assert today is not None
    assert (got["status"], got["opens_on"], got["eligible_count"]) == ("open", today, 2)
    assert date.fromisoformat(got["closes_on"]) - date.fromisoformat(today) == (
        date(2026, 1, 14) - date(2026, 1, 1)
    )
    me = (await klass.trainees[0].get(klass.url)).json()["me"]
    assert me == {"may_answer": True, "has_answered": False}


async def test_no_evaluation_is_a_404(client: httpx.AsyncClient, client_for: ClientFor) -> None:
    unit = await create_org_unit(client)
    klass = await evaluated_class(client, client_for, unit["id"], 0, attach=False)
    assert_problem(await client.get(klass.url), 404, "evaluation.not_found")
    r = await client.get(f"{API}/training-sessions/00000000-0000-7000-8000-000000000000/evaluation")
    assert_problem(r, 404, "training_session.not_found")


async def test_what_may_be_attached(client: httpx.AsyncClient, client_for: ClientFor) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county", name="来安县")
    sibling = await create_org_unit(client, city["id"], kind="county", name="全椒县")
    klass = await evaluated_class(client, client_for, county["id"], 0, attach=False)
    county_admin = await client_for(Role.org_admin, org_unit_id=county["id"])
    sibling_admin = await client_for(Role.org_admin, org_unit_id=sibling["id"])
    city_form = await create_form(client, city["id"])
    sibling_form = await create_form(client, sibling["id"])
    # A sibling's form is not the organiser's to use.
    r = await county_admin.put(klass.url, json={"form_id": sibling_form["id"]})
    body = assert_problem(r, 422, "evaluation.form_reference_not_found")
    assert body["errors"][0]["pointer"] == "/body/form_id"
    # Another unit's administrator does not organise the session.
    r = await sibling_admin.put(klass.url, json={"form_id": sibling_form["id"]})
    assert r.status_code in (403, 404)
    # A superseded revision: attach the latest.
    r = await client.post(
        f"{FORMS}/{city_form['id']}/revisions",
        json={"name": "新", "allow_comments": True, "indicators": INDICATORS},
    )
    latest = r.json()
    assert_problem(
        await county_admin.put(klass.url, json={"form_id": city_form["id"]}),
        409,
        "evaluation.form_superseded",
    )
    # An inactive form.
    await client.patch(f"{FORMS}/{latest['id']}", json={"active": False})
    assert_problem(
        await county_admin.put(klass.url, json={"form_id": latest["id"]}),
        422,
        "evaluation.form_reference_not_found",
    )
    await client.patch(f"{FORMS}/{latest['id']}", json={"active": True})
    # Opening early: a day of the session only.
    for day in ("2025-03-02", "2025-03-08"):
        r = await county_admin.put(klass.url, json={"form_id": latest["id"], "opens_on": day})
        body = assert_problem(r, 422, "evaluation.opens_on_outside_session")
        assert body["errors"][0]["pointer"] == "/body/opens_on"
    with pinned(date(2025, 3, 4)):
        await _early_then_own_form(client, county_admin, klass, latest, county)


async def _early_then_own_form(
    client: httpx.AsyncClient,
    county_admin: httpx.AsyncClient,
    klass: Klass,
    latest: dict[str, Any],
    county: dict[str, Any],
) -> None:
    r = await county_admin.put(klass.url, json={"form_id": latest["id"], "opens_on": "2025-03-07"})
    assert r.status_code == 200, r.text
    assert (r.json()["opened_early"], r.json()["opens_on"]) == (True, "2025-03-07")
    # The ancestor's form replaced by the county's own, under If-Match.
    own = await create_form(client, county["id"])
    r = await county_admin.put(klass.url, json={"form_id": own["id"]}, headers={"If-Match": '"9"'})
    assert_problem(r, 412, "precondition_failed")
    r = await county_admin.put(klass.url, json={"form_id": own["id"]}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert (r.json()["form"]["id"], r.headers["etag"], r.json()["opens_on"]) == (
        own["id"],
        '"2"',
        None,
    )


async def test_a_cancelled_session_is_not_evaluated(
    client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]
) -> None:
    klass = await evaluated_class(client, client_for, unit["id"], 0, attach=False)
    r = await client.patch(
        f"{API}/training-sessions/{klass.ts['id']}", json={"status": "cancelled"}
    )
    assert r.status_code == 200, r.text
    assert_problem(
        await client.put(klass.url, json={"form_id": klass.form["id"]}),
        409,
        "evaluation.session_cancelled",
    )


# --- answering ----------------------------------------------------------------------------------


@pytest.fixture
async def klass(client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]) -> Klass:
    return await evaluated_class(client, client_for, unit["id"], 3)


async def _answer(trainee: httpx.AsyncClient, klass: Klass, body: dict[str, Any]) -> httpx.Response:
    return await trainee.post(f"{klass.url}/answers", json=body)


async def _counts(db_conn: AsyncConnection, klass: Klass) -> tuple[int, int, int]:
    row = (
        await db_conn.execute(
            text(
                "SELECT (SELECT count(*) FROM evaluation_answer WHERE training_session_id = :s), "
                "(SELECT count(*) FROM evaluation_comment WHERE training_session_id = :s), "
                "(SELECT count(*) FROM evaluation_answered a JOIN enrollment e "
                "ON e.id = a.enrollment_id WHERE e.training_session_id = :s)"
            ),
            {"s": klass.ts["id"]},
        )
    ).one()
    return row[0], row[1], row[2]


async def test_a_completed_trainee_answers_once(
    client: httpx.AsyncClient, klass: Klass, db_conn: AsyncConnection
) -> None:
    # Before the close: not open.
    assert_problem(
        await _answer(klass.trainees[0], klass, klass.full_answer()), 409, "evaluation.not_open"
    )
    await close_session(client, klass)
    r = await _answer(klass.trainees[0], klass, klass.full_answer(5, comment="很好"))
    assert r.status_code == 204, r.text
    assert r.content == b""
    # One row per rated subject (1 + 2 courses + 2 teachers), one comment, one marker.
    assert await _counts(db_conn, klass) == (5, 1, 1)
    assert_problem(
        await _answer(klass.trainees[0], klass, klass.full_answer()),
        409,
        "evaluation.already_answered",
    )
    got = (await klass.trainees[0].get(klass.url)).json()
    assert got["me"] == {"may_answer": False, "has_answered": True}
    assert got["answered_count"] == 1
    # Only the session is required; courses and teachers are each optional.
    r = await _answer(
        klass.trainees[1],
        klass,
        {"ratings": [{"subject": "session", "scores": [3, 3, 3]}]},
    )
    assert r.status_code == 204, r.text
    assert await _counts(db_conn, klass) == (6, 1, 2)
    stored = (
        await db_conn.execute(
            text(
                "SELECT subject, subject_id, scores FROM evaluation_answer "
                "WHERE training_session_id = :s ORDER BY subject, subject_id, scores"
            ),
            {"s": klass.ts["id"]},
        )
    ).all()
    assert sorted((str(s), str(i), list(sc)) for s, i, sc in stored) == sorted(
        [("session", klass.ts["id"], [5, 5, 5]), ("session", klass.ts["id"], [3, 3, 3])]
        + [("course", c["id"], [5, 5]) for c in klass.courses]
        + [("teacher", t["id"], [5, 5]) for t in klass.teachers]
    )


async def test_who_may_answer(
    client: httpx.AsyncClient, client_for: ClientFor, klass: Klass, unit: dict[str, Any]
) -> None:
    # 学员02 takes too much leave: dropped out at the close.
    r = await client.patch(
        f"{API}/enrollments/{klass.enrollments[2]['id']}", json={"leave_hours": "8"}
    )
    assert r.status_code == 200, r.text
    await close_session(client, klass)
    assert_problem(
        await _answer(klass.trainees[2], klass, klass.full_answer()), 409, "evaluation.not_eligible"
    )
    # A cadre of the audience who did not attend.
    outsider = await create_cadre(client, unit["id"])
    stranger = await client_for(Role.cadre, cadre_id=outsider["id"])
    assert_problem(
        await _answer(stranger, klass, klass.full_answer()), 403, "evaluation.not_trainee"
    )
    # Staff do not answer.
    assert_problem(await _answer(client, klass, klass.full_answer()), 403, "forbidden")
    got = (await client.get(klass.url)).json()
    assert (got["answered_count"], got["eligible_count"]) == (0, 2)


@pytest.mark.parametrize(
    ("mutate", "status", "code", "pointer"),
    [
        # no session rating
        (
            lambda k, b: {**b, "ratings": b["ratings"][1:]},
            422,
            "evaluation.invalid_answer",
            "/body/ratings",
        ),
        # the session twice
        (
            lambda k, b: {**b, "ratings": [b["ratings"][0], *b["ratings"]]},
            422,
            "evaluation.invalid_answer",
            "/body/ratings/1/subject_id",
        ),
        # a course twice
        (
            lambda k, b: {**b, "ratings": [*b["ratings"], b["ratings"][1]]},
            422,
            "evaluation.invalid_answer",
            "/body/ratings/5/subject_id",
        ),
        # a score missing
        (
            lambda k, b: {**b, "ratings": [{**b["ratings"][0], "scores": [4, 4]}]},
            422,
            "evaluation.invalid_answer",
            "/body/ratings/0/scores",
        ),
        # a score too many
        (
            lambda k, b: {**b, "ratings": [{**b["ratings"][0], "scores": [4, 4, 4, 4]}]},
            422,
            "evaluation.invalid_answer",
            "/body/ratings/0/scores",
        ),
        # off the scale
        (
            lambda k, b: {**b, "ratings": [{**b["ratings"][0], "scores": [4, 6, 4]}]},
            422,
            "validation_failed",
            "/body/ratings/0/scores/1",
        ),
        (
            lambda k, b: {**b, "ratings": [{**b["ratings"][0], "scores": [4, 0, 4]}]},
            422,
            "validation_failed",
            "/body/ratings/0/scores/1",
        ),
        (
            lambda k, b: {**b, "ratings": [{**b["ratings"][0], "scores": [4, 3.5, 4]}]},
            422,
            "validation_failed",
            "/body/ratings/0/scores/1",
        ),
        # a teacher who did not teach the session
        (
            lambda k, b: {
                **b,
                "ratings": [
                    *b["ratings"][:1],
                    {**b["ratings"][3], "subject_id": k.courses[0]["id"]},
                ],
            },
            422,
            "evaluation.invalid_answer",
            "/body/ratings/1/subject_id",
        ),
        # a course without its id
        (
            lambda k, b: {
                **b,
                "ratings": [*b["ratings"][:1], {**b["ratings"][1], "subject_id": None}],
            },
            422,
            "evaluation.invalid_answer",
            "/body/ratings/1/subject_id",
        ),
        # the session rated under another session's id
        (
            lambda k, b: {
                **b,
                "ratings": [
                    {**b["ratings"][0], "subject_id": k.courses[0]["id"]},
                    *b["ratings"][1:],
                ],
            },
            422,
            "evaluation.invalid_answer",
            "/body/ratings/0/subject_id",
        ),
        # a comment on a subject not rated
        (
            lambda k, b: {
                "ratings": b["ratings"][:1],
                "comments": [
                    {"subject": "teacher", "subject_id": k.teachers[0]["id"], "body": "好"}
                ],
            },
            422,
            "evaluation.invalid_answer",
            "/body/comments/0/subject_id",
        ),
        # two comments on the session
        (
            lambda k, b: {**b, "comments": [{"subject": "session", "body": "好"}] * 2},
            422,
            "evaluation.invalid_answer",
            "/body/comments/1/subject_id",
        ),
        # blank, over-long or NUL comments
        (
            lambda k, b: {**b, "comments": [{"subject": "session", "body": "  \n "}]},
            422,
            "validation_failed",
            "/body/comments/0/body",
        ),
        (
            lambda k, b: {**b, "comments": [{"subject": "session", "body": "字" * 2001}]},
            422,
            "validation_failed",
            "/body/comments/0/body",
        ),
        (
            lambda k, b: {**b, "comments": [{"subject": "session", "body": "a\u0000b"}]},
            422,
            "validation_failed",
            "/body/comments/0/body",
        ),
        # a field the answer does not take
        (
            lambda k, b: {**b, "cadre_id": k.enrollments[0]["cadre_id"]},
            422,
            "validation_failed",
            "/body/cadre_id",
        ),
    ],
)
async def test_bad_answers_are_problems_and_write_nothing(
    client: httpx.AsyncClient,
    klass: Klass,
    db_conn: AsyncConnection,
    mutate: Any,
    status: int,
    code: str,
    pointer: str,
) -> None:
    await close_session(client, klass)
    r = await _answer(klass.trainees[0], klass, mutate(klass, klass.full_answer()))
    body = assert_problem(r, status, code)
    assert pointer in {e["pointer"] for e in body["errors"]}, body
    assert await _counts(db_conn, klass) == (0, 0, 0)
    # The trainee may still answer.
    assert (await _answer(klass.trainees[0], klass, klass.full_answer())).status_code == 204


async def test_comments_only_when_the_form_takes_them(
    client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any], db_conn: AsyncConnection
) -> None:
    klass = await evaluated_class(client, client_for, unit["id"], 1, attach=False)
    form = await create_form(client, unit["id"], allow_comments=False)
    assert (await client.put(klass.url, json={"form_id": form["id"]})).status_code == 200
    await close_session(client, klass)
    assert_problem(
        await _answer(klass.trainees[0], klass, klass.full_answer(comment="好")),
        422,
        "evaluation.comments_not_allowed",
    )
    assert await _counts(db_conn, klass) == (0, 0, 0)
    assert (await _answer(klass.trainees[0], klass, klass.full_answer())).status_code == 204


async def test_a_form_without_teacher_indicators_takes_no_teacher_rating(
    client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]
) -> None:
    klass = await evaluated_class(client, client_for, unit["id"], 1, attach=False)
    form = await create_form(client, unit["id"], indicators=INDICATORS[:3])
    assert (await client.put(klass.url, json={"form_id": form["id"]})).status_code == 200
    await close_session(client, klass)
    body = assert_problem(
        await _answer(klass.trainees[0], klass, klass.full_answer()),
        422,
        "evaluation.invalid_answer",
    )
    assert "/body/ratings/3/scores" in {e["pointer"] for e in body["errors"]}


async def test_closed_early_takes_no_more_answers(client: httpx.AsyncClient, klass: Klass) -> None:
    await close_session(client, klass)
    assert (await _answer(klass.trainees[0], klass, klass.full_answer())).status_code == 204
    r = await client.post(f"{klass.url}/close")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["closed_early"]) == ("closed", True)
    assert_problem(await client.post(f"{klass.url}/close"), 409, "evaluation.closed")
    assert_problem(
        await _answer(klass.trainees[1], klass, klass.full_answer()), 409, "evaluation.not_open"
    )
    assert_problem(
        await client.put(klass.url, json={"form_id": klass.form["id"]}), 409, "evaluation.closed"
    )


async def test_another_form_only_while_nobody_has_answered(
    client: httpx.AsyncClient, klass: Klass, unit: dict[str, Any]
) -> None:
    other = await create_form(client, unit["id"], name="另一张评估表")
    await close_session(client, klass)
    assert (await client.put(klass.url, json={"form_id": other["id"]})).status_code == 200
    assert (await client.put(klass.url, json={"form_id": klass.form["id"]})).status_code == 200
    assert (await _answer(klass.trainees[0], klass, klass.full_answer())).status_code == 204
    assert_problem(
        await client.put(klass.url, json={"form_id": other["id"]}), 409, "evaluation.has_answers"
    )
    # The same form again (nothing changes for the answers) is fine.
    assert (await client.put(klass.url, json={"form_id": klass.form["id"]})).status_code == 200


async def test_opened_early_the_trainees_answer_before_the_close(
    client: httpx.AsyncClient, klass: Klass
) -> None:
    r = await client.put(klass.url, json={"form_id": klass.form["id"], "opens_on": "2025-03-06"})
    assert r.status_code == 200, r.text
    with pinned(date(2025, 3, 5)):
        got = (await klass.trainees[0].get(klass.url)).json()
        assert (got["status"], got["opens_on"], got["closes_on"]) == (
            "scheduled",
            "2025-03-06",
            "2025-03-19",
        )
        assert_problem(
            await _answer(klass.trainees[0], klass, klass.full_answer()),
            409,
            "evaluation.not_open",
        )
    with pinned(date(2025, 3, 6)):
        got = (await klass.trainees[0].get(klass.url)).json()
        assert (got["status"], got["eligible_count"], got["me"]["may_answer"]) == ("open", 3, True)
        assert (await _answer(klass.trainees[0], klass, klass.full_answer())).status_code == 204
    with pinned(date(2025, 3, 20)):
        assert_problem(
            await _answer(klass.trainees[1], klass, klass.full_answer()),
            409,
            "evaluation.not_open",
        )


async def test_the_session_records_the_day_it_closed(
    client: httpx.AsyncClient, klass: Klass
) -> None:
    url = f"{API}/training-sessions/{klass.ts['id']}"
    assert (await client.get(url)).json()["closed_on"] is None
    with pinned(date(2025, 3, 10)):
        await close_session(client, klass)
        got = (await client.get(klass.url)).json()
    assert (await client.get(url)).json()["closed_on"] == "2025-03-10"
    assert (got["status"], got["opens_on"], got["closes_on"]) == (
        "open",
        "2025-03-10",
        "2025-03-23",
    )


async def test_attached_after_a_long_closed_session_it_opens_the_day_it_is_attached(
    client: httpx.AsyncClient, client_for: ClientFor, unit: dict[str, Any]
) -> None:
    klass = await evaluated_class(client, client_for, unit["id"], 1, attach=False)
    with pinned(date(2025, 3, 10)):
        await close_session(client, klass)
    with pinned(date(2025, 6, 1)):
        r = await client.put(klass.url, json={"form_id": klass.form["id"]})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["opens_on"], r.json()["opened_early"]) == (
            "open",
            "2025-06-01",
            False,
        )
        assert (await _answer(klass.trainees[0], klass, klass.full_answer())).status_code == 204
    # Attached again later (the same form): the window does not move.
    with pinned(date(2025, 6, 3)):
        r = await client.put(klass.url, json={"form_id": klass.form["id"]})
        assert (r.json()["opens_on"], r.json()["closes_on"]) == ("2025-06-01", "2025-06-14")


async def test_changing_the_form_after_the_close_does_not_move_the_window(
    client: httpx.AsyncClient, klass: Klass, unit: dict[str, Any]
) -> None:
    other = await create_form(client, unit["id"], name="另一张评估表")
    with pinned(date(2025, 3, 10)):
        await close_session(client, klass)
    with pinned(date(2025, 3, 12)):
        r = await client.put(klass.url, json={"form_id": other["id"]})
        assert r.status_code == 200, r.text
        assert (r.json()["opens_on"], r.json()["closes_on"], r.json()["opened_early"]) == (
            "2025-03-10",
            "2025-03-23",
            False,
        )
