"""The course and teacher catalogue (docs/rules.md, "Catalogue"): CRUD under ETag and
Idempotency-Key, scope by org subtree, deactivation instead of deletion, and session parts that
name a course and a teacher."""

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.catalogue.models import Course, Teacher
from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session
from tests.test_platform import assert_problem

TEACHERS = f"{API}/teachers"
COURSES = f"{API}/courses"


def teacher_body(org_unit_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "org_unit_id": org_unit_id,
        "name": "李四",
        "organisation": "滁州市委党校",
        "title": "教授",
        "specialties": ["党性教育", "党史"],
        "kind": "internal",
        **fields,
    }


def course_body(org_unit_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "org_unit_id": org_unit_id,
        "title": "新时代党的建设",
        "topic_tags": ["党性教育"],
        "default_hours": "4",
        **fields,
    }


@dataclass
class Tree:
    city: dict[str, Any]
    county: dict[str, Any]
    sibling: dict[str, Any]
    clients: dict[str, httpx.AsyncClient]


@pytest.fixture
async def tree(client: httpx.AsyncClient, client_for: ClientFor) -> Tree:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county", name="来安县")
    sibling = await create_org_unit(client, city["id"], kind="county", name="全椒县")
    cadre = await create_cadre(client, county["id"])
    clients = {
        "admin": client,
        "city_admin": await client_for(Role.org_admin, org_unit_id=city["id"]),
        "county_admin": await client_for(Role.org_admin, org_unit_id=county["id"]),
        "sibling_admin": await client_for(Role.org_admin, org_unit_id=sibling["id"]),
        "auditor": await client_for(Role.auditor),
        "cadre": await client_for(Role.cadre, cadre_id=cadre["id"]),
    }
    return Tree(city, county, sibling, clients)


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(url, json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_teacher_and_course_crud_with_etag_and_deactivation(tree: Tree) -> None:
    admin = tree.clients["county_admin"]
    teacher = await _post(admin, TEACHERS, teacher_body(tree.county["id"]))
    assert teacher["kind"] == "internal"
    assert teacher["active"] is True
    course = await _post(
        admin, COURSES, course_body(tree.county["id"], teacher_ids=[teacher["id"]])
    )
    assert course["teacher_ids"] == [teacher["id"]]
    assert course["default_hours"] == "4.00"

    r = await admin.get(f"{COURSES}/{course['id']}")
    assert r.status_code == 200
    assert r.headers["etag"] == f'"{course["version"]}"'

    stale = f'"{course["version"] + 5}"'
    r = await admin.patch(
        f"{COURSES}/{course['id']}", json={"title": "改"}, headers={"If-Match": stale}
    )
    assert_problem(r, 412, "precondition_failed")
    r = await admin.patch(
        f"{COURSES}/{course['id']}",
        json={"active": False, "title": "新时代党的建设（修订）"},
        headers={"If-Match": f'"{course["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert r.json()["version"] == course["version"] + 1

    r = await admin.patch(
        f"{TEACHERS}/{teacher['id']}",
        json={"kind": "external", "organisation": None},
        headers={"If-Match": f'"{teacher["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "external"
    assert r.json()["organisation"] is None

    r = await admin.get(COURSES, params={"org_unit_id": tree.county["id"], "active": "false"})
    assert [c["id"] for c in r.json()["items"]] == [course["id"]]
    r = await admin.get(COURSES, params={"active": "true"})
    assert r.json()["items"] == []


async def test_create_is_idempotent(tree: Tree) -> None:
    admin = tree.clients["county_admin"]
    headers = {"Idempotency-Key": "catalogue-teacher-1"}
    body = teacher_body(tree.county["id"])
    first = await admin.post(TEACHERS, json=body, headers=headers)
    again = await admin.post(TEACHERS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    r = await admin.get(TEACHERS)
    assert len(r.json()["items"]) == 1


async def test_a_sibling_countys_admin_sees_none_of_its_catalogue(tree: Tree) -> None:
    county, sibling = tree.clients["county_admin"], tree.clients["sibling_admin"]
    teacher = await _post(county, TEACHERS, teacher_body(tree.county["id"]))
    course = await _post(county, COURSES, course_body(tree.county["id"]))

    for url, entry in ((TEACHERS, teacher), (COURSES, course)):
        r = await sibling.get(url)
        assert r.status_code == 200
        assert r.json()["items"] == []
        code = "catalogue.teacher_not_found" if url == TEACHERS else "catalogue.course_not_found"
        assert_problem(await sibling.get(f"{url}/{entry['id']}"), 404, code)
        r = await sibling.patch(
            f"{url}/{entry['id']}", json={"active": False}, headers={"If-Match": '"1"'}
        )
        assert_problem(r, 404, code)
        # the city's admin and the auditor see it; a cadre has no catalogue
        r = await tree.clients["city_admin"].get(url, params={"org_unit_id": tree.county["id"]})
        assert [e["id"] for e in r.json()["items"]] == [entry["id"]]
        r = await tree.clients["auditor"].get(f"{url}/{entry['id']}")
        assert r.status_code == 200
        assert_problem(await tree.clients["cadre"].get(url), 403, "forbidden")

    r = await sibling.post(TEACHERS, json=teacher_body(tree.county["id"]))
    assert_problem(r, 422, "org_unit.reference_not_found")
    r = await tree.clients["auditor"].post(TEACHERS, json=teacher_body(tree.county["id"]))
    assert_problem(r, 403, "forbidden")


async def test_bad_input_is_refused_and_nothing_is_written(
    tree: Tree, db_conn: AsyncConnection
) -> None:
    admin = tree.clients["county_admin"]
    other = await _post(tree.clients["sibling_admin"], TEACHERS, teacher_body(tree.sibling["id"]))
    before = await db_conn.scalar(select(func.count()).select_from(Course))
    bad = [
        course_body(tree.county["id"], default_hours="-1"),
        course_body(tree.county["id"], title=""),
        course_body(tree.county["id"], title="x\x00y"),
        course_body(tree.county["id"], topic_tags=["t"] * 21),
        {**course_body(tree.county["id"]), "extra": 1},
    ]
    for body in bad:
        assert_problem(await admin.post(COURSES, json=body), 422, "validation_failed")
    # a teacher of a sibling unit's catalogue is not the county's to name
    r = await admin.post(COURSES, json=course_body(tree.county["id"], teacher_ids=[other["id"]]))
    assert_problem(r, 422, "catalogue.teacher_reference_not_found")
    assert r.json()["errors"][0]["pointer"] == "/body/teacher_ids/0"
    r = await admin.post(TEACHERS, json=teacher_body(tree.county["id"], kind="guest"))
    assert_problem(r, 422, "validation_failed")
    assert await db_conn.scalar(select(func.count()).select_from(Course)) == before
    assert await db_conn.scalar(select(func.count()).select_from(Teacher)) == 1


async def _two_part_session(client: httpx.AsyncClient, org_unit_id: str) -> dict[str, Any]:
    return await create_session(
        client,
        org_unit_id,
        start_date="2025-03-03",
        end_date="2025-03-03",
        days="1",
        credit_hours="8",
    )


def _parts(course_id: str | None, teacher_id: str | None) -> list[dict[str, Any]]:
    return [
        {
            "part_date": "2025-03-03",
            "period": "morning",
            "credit_hours": "4",
            "course_id": course_id,
            "teacher_id": teacher_id,
        },
        {"part_date": "2025-03-03", "period": "afternoon", "credit_hours": "4"},
    ]


async def test_session_parts_name_a_course_and_teacher_of_the_organisers_catalogue(
    tree: Tree,
) -> None:
    county = tree.clients["county_admin"]
    # the city's catalogue serves its counties; the sibling's does not
    teacher = await _post(tree.clients["city_admin"], TEACHERS, teacher_body(tree.city["id"]))
    course = await _post(county, COURSES, course_body(tree.county["id"]))
    foreign = await _post(tree.clients["sibling_admin"], COURSES, course_body(tree.sibling["id"]))
    ts = await _two_part_session(county, tree.county["id"])
    url = f"{API}/training-sessions/{ts['id']}/parts"

    r = await county.put(
        url,
        json={"parts": _parts(foreign["id"], teacher["id"])},
        headers={"If-Match": f'"{ts["version"]}"'},
    )
    assert_problem(r, 422, "catalogue.course_reference_not_found")
    assert r.json()["errors"][0]["pointer"] == "/body/parts/0/course_id"
    assert (await county.get(url)).json()["parts"] == []

    r = await county.put(
        url,
        json={"parts": _parts(course["id"], teacher["id"])},
        headers={"If-Match": f'"{ts["version"]}"'},
    )
    assert r.status_code == 200, r.text
    parts = r.json()["parts"]
    assert (parts[0]["course_id"], parts[0]["teacher_id"]) == (course["id"], teacher["id"])
    assert (parts[1]["course_id"], parts[1]["teacher_id"]) == (None, None)
    version = r.json()["version"]

    # a deactivated teacher is not named again
    t = await tree.clients["city_admin"].patch(
        f"{TEACHERS}/{teacher['id']}",
        json={"active": False},
        headers={"If-Match": f'"{teacher["version"]}"'},
    )
    assert t.status_code == 200
    r = await county.put(
        url,
        json={"parts": _parts(course["id"], teacher["id"])},
        headers={"If-Match": f'"{version}"'},
    )
    assert_problem(r, 422, "catalogue.teacher_reference_not_found")
    r = await county.put(
        url,
        json={"parts": _parts(course["id"], "00000000-0000-0000-0000-000000000000")},
        headers={"If-Match": f'"{version}"'},
    )
    assert_problem(r, 422, "catalogue.teacher_reference_not_found")
    r = await county.get(url)
    assert r.json()["parts"][0]["teacher_id"] == teacher["id"]


async def test_a_session_without_parts_lists_its_courses(tree: Tree) -> None:
    county = tree.clients["county_admin"]
    course = await _post(county, COURSES, course_body(tree.county["id"]))
    city_course = await _post(tree.clients["city_admin"], COURSES, course_body(tree.city["id"]))
    foreign = await _post(tree.clients["sibling_admin"], COURSES, course_body(tree.sibling["id"]))
    ts = await _two_part_session(county, tree.county["id"])
    url = f"{API}/training-sessions/{ts['id']}/courses"
    assert (await county.get(url)).json()["course_ids"] == []

    headers = {"If-Match": f'"{ts["version"]}"'}
    r = await county.put(url, json={"course_ids": [course["id"], foreign["id"]]}, headers=headers)
    body = assert_problem(r, 422, "catalogue.course_reference_not_found")
    assert [e["pointer"] for e in body["errors"]] == ["/body/course_ids/1"]
    assert (await county.get(url)).json()["course_ids"] == []

    r = await county.put(
        url, json={"course_ids": [city_course["id"], course["id"]]}, headers=headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["course_ids"] == [city_course["id"], course["id"]]
    assert r.json()["version"] == ts["version"] + 1
    # another county's admin sees nothing of the session; the auditor reads it; a cadre none
    r = await tree.clients["sibling_admin"].get(url)
    assert_problem(r, 404, "training_session.not_found")
    assert (await tree.clients["auditor"].get(url)).json()["course_ids"] == [
        city_course["id"],
        course["id"],
    ]
    assert_problem(await tree.clients["cadre"].get(url), 403, "forbidden")


async def test_one_active_course_title_per_unit(tree: Tree) -> None:
    """Case does not make a title new (surrounding spaces are refused as input, and ignored by
    the index); another unit, or an inactive course, does not hold it. Teachers may share a
    name (two 张伟 exist)."""
    admin = tree.clients["admin"]
    first = await _post(admin, COURSES, course_body(tree.county["id"], title="党史学习"))
    r = await admin.post(COURSES, json=course_body(tree.county["id"], title="党史学习"))
    assert_problem(r, 409, "catalogue.course_title_taken")
    latin = await _post(admin, COURSES, course_body(tree.county["id"], title="Party History"))
    r = await admin.post(COURSES, json=course_body(tree.county["id"], title="PARTY history"))
    assert_problem(r, 409, "catalogue.course_title_taken")
    # renaming onto a taken title is refused as well
    got = await admin.get(f"{COURSES}/{latin['id']}")
    r = await admin.patch(
        f"{COURSES}/{latin['id']}",
        json={"title": "党史学习"},
        headers={"If-Match": got.headers["etag"]},
    )
    assert_problem(r, 409, "catalogue.course_title_taken")
    await _post(admin, COURSES, course_body(tree.sibling["id"], title="党史学习"))
    got = await admin.get(f"{COURSES}/{first['id']}")
    r = await admin.patch(
        f"{COURSES}/{first['id']}",
        json={"active": False},
        headers={"If-Match": got.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    await _post(admin, COURSES, course_body(tree.county["id"], title="党史学习"))
    for _ in range(2):
        await _post(admin, TEACHERS, teacher_body(tree.county["id"], name="张伟"))


async def test_concurrent_duplicate_course_titles_answer_409(
    committed_client: httpx.AsyncClient,
) -> None:
    client = committed_client
    unit = await create_org_unit(client)
    responses = await asyncio.gather(
        *(client.post(COURSES, json=course_body(unit["id"], title="保密教育")) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "catalogue.course_title_taken"
    }
