"""A class ready to be evaluated (docs/evaluation.md): a unit's catalogue, a session listing two
courses (each with its teacher), a form attached, trainees and their cadre clients."""

from dataclasses import dataclass, field
from typing import Any

import httpx

from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_session

FORMS = f"{API}/evaluation-forms"

INDICATORS: list[dict[str, Any]] = [
    {"subject": "session", "code": "content", "label": "教学内容", "weight": "3"},
    {"subject": "session", "code": "organisation", "label": "组织管理", "weight": 2},
    {"subject": "session", "code": "facilities", "label": "后勤保障", "weight": "1.00"},
    {"subject": "course", "code": "content", "label": "课程内容", "weight": 1},
    {"subject": "course", "code": "usefulness", "label": "实用性", "weight": 1},
    {"subject": "teacher", "code": "delivery", "label": "授课水平", "weight": 2},
    {"subject": "teacher", "code": "preparation", "label": "备课", "weight": 1},
]


def form_body(org_unit_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "org_unit_id": org_unit_id,
        "name": "培训班质量评估表",
        "allow_comments": True,
        "indicators": INDICATORS,
        **fields,
    }


async def create_form(client: httpx.AsyncClient, org_unit_id: str, **fields: Any) -> dict[str, Any]:
    r = await client.post(FORMS, json=form_body(org_unit_id, **fields))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


@dataclass
class Klass:
    ts: dict[str, Any]
    form: dict[str, Any]
    courses: list[dict[str, Any]]
    teachers: list[dict[str, Any]]
    enrollments: list[dict[str, Any]] = field(default_factory=list)
    trainees: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{API}/training-sessions/{self.ts['id']}/evaluation"

    def full_answer(self, score: int = 4, *, comment: str | None = None) -> dict[str, Any]:
        """The session, both courses and both teachers rated `score` on every indicator."""
        ratings = [{"subject": "session", "subject_id": None, "scores": [score] * 3}]
        ratings += [
            {"subject": "course", "subject_id": c["id"], "scores": [score] * 2}
            for c in self.courses
        ]
        ratings += [
            {"subject": "teacher", "subject_id": t["id"], "scores": [score] * 2}
            for t in self.teachers
        ]
        comments = [] if comment is None else [{"subject": "session", "body": comment}]
        return {"ratings": ratings, "comments": comments}


async def evaluated_class(
    admin: httpx.AsyncClient,
    trainee_client: ClientFor,
    org_unit_id: str,
    trainees: int,
    *,
    attach: bool = True,
    **session_fields: Any,
) -> Klass:
    teachers = []
    for name in ("李老师", "王老师"):
        r = await admin.post(
            f"{API}/teachers",
            json={"org_unit_id": org_unit_id, "name": name, "specialties": [], "kind": "internal"},
        )
        assert r.status_code == 201, r.text
        teachers.append(r.json())
    courses = []
    for title, teacher in zip(("党史专题", "公文写作"), teachers, strict=True):
        r = await admin.post(
            f"{API}/courses",
            json={"org_unit_id": org_unit_id, "title": title, "teacher_ids": [teacher["id"]]},
        )
        assert r.status_code == 201, r.text
        courses.append(r.json())
    ts = await create_session(admin, org_unit_id, **session_fields)
    r = await admin.put(
        f"{API}/training-sessions/{ts['id']}/courses",
        json={"course_ids": [c["id"] for c in courses]},
    )
    assert r.status_code == 200, r.text
    form = await create_form(admin, org_unit_id)
    klass = Klass(ts=ts, form=form, courses=courses, teachers=teachers)
    if attach:
        r = await admin.put(klass.url, json={"form_id": form["id"]})
        assert r.status_code == 200, r.text
    for n in range(trainees):
        cadre = await create_cadre(admin, org_unit_id, name=f"学员{n:02d}")
        r = await admin.post(
            f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
        )
        assert r.status_code == 201, r.text
        klass.enrollments.append(r.json())
        klass.trainees.append(await trainee_client(Role.cadre, cadre_id=cadre["id"]))
    return klass


async def close_session(admin: httpx.AsyncClient, klass: Klass) -> None:
    r = await admin.post(f"{API}/training-sessions/{klass.ts['id']}/close")
    assert r.status_code == 200, r.text
