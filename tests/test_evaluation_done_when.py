"""Issue 14's "Done when", through the API only: a class of 12 closes (certificates issued), 9
trainees answer its evaluation, the report shows figures for the session and for the teacher 7
of them rated, none for the course only 3 rated; the certificates verify, and the one whose
study log is voided verifies as revoked."""

from decimal import Decimal
from typing import Any

import httpx

from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit, create_session

# docs/rules.md rule 14. Session indicators: content (3), delivery (2), organisation (1).
SESSION_SCORES = [
    (5, 4, 3),  # 26/6
    (3, 3, 3),  # 18/6
    (4, 4, 4),  # 24/6 = 4: satisfied
    (5, 5, 5),  # 30/6
    (4, 3, 5),  # 23/6
    (2, 3, 4),  # 16/6
    (5, 5, 4),  # 29/6
    (4, 5, 3),  # 25/6
    (3, 4, 5),  # 22/6
]
# Teacher indicators: delivery (2), preparation (1).
TEACHER_SCORES = [(5, 5), (4, 4), (4, 5), (3, 4), (5, 4), (4, 3), (5, 5)]
COURSE_SCORES = [(5,), (4,), (2,)]


def _hand_computed() -> dict[str, Any]:
    """Σ = (26 + 18 + 24 + 30 + 23 + 16 + 29 + 25 + 22) / 6 = 213/6 over 9 answers = 3.9444…
    → 3.94; satisfied (≥ 24/6): 26, 24, 30, 29, 25 → 5/9 = 0.5556; means: content 35/9 = 3.89,
    delivery 36/9 = 4.00, organisation 36/9 = 4.00."""
    weights = (3, 2, 1)
    scores = [
        Decimal(sum(w * s for w, s in zip(weights, row, strict=True))) / 6 for row in SESSION_SCORES
    ]
    assert sum(scores) * 6 == 213
    return {
        "weighted_score": "3.94",
        "satisfaction_rate": "0.5556",
        "means": {"content": "3.89", "delivery": "4.00", "organisation": "4.00"},
    }


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(f"{API}{path}", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_class_from_close_to_evaluation_report_and_certificates(
    client: httpx.AsyncClient, client_for: ClientFor, anonymous: httpx.AsyncClient
) -> None:
    unit = await create_org_unit(client)
    organiser = await client_for(Role.org_admin, org_unit_id=unit["id"])

    # The catalogue: teacher T teaches course C in the morning; U teaches D in the afternoon.
    t = await _post(
        organiser, "/teachers", {"org_unit_id": unit["id"], "name": "唐老师", "kind": "internal"}
    )
    u = await _post(
        organiser, "/teachers", {"org_unit_id": unit["id"], "name": "吴老师", "kind": "external"}
    )
    c = await _post(
        organiser,
        "/courses",
        {"org_unit_id": unit["id"], "title": "党性教育", "teacher_ids": [t["id"]]},
    )
    d = await _post(
        organiser,
        "/courses",
        {"org_unit_id": unit["id"], "title": "公文写作", "teacher_ids": [u["id"]]},
    )
    ts = await create_session(
        organiser,
        unit["id"],
        title="科级干部任职培训班",
        start_date="2025-03-03",
        end_date="2025-03-03",
        days="1",
        credit_hours="8",
    )
    session_url = f"{API}/training-sessions/{ts['id']}"
    r = await organiser.put(
        f"{session_url}/parts",
        json={
            "parts": [
                {
                    "part_date": "2025-03-03",
                    "period": "morning",
                    "credit_hours": "4",
                    "course_id": c["id"],
                    "teacher_id": t["id"],
                },
                {
                    "part_date": "2025-03-03",
                    "period": "afternoon",
                    "credit_hours": "4",
                    "course_id": d["id"],
                    "teacher_id": u["id"],
                },
            ]
        },
        headers={"If-Match": f'"{ts["version"]}"'},
    )
    assert r.status_code == 200, r.text
    parts = [p["id"] for p in r.json()["parts"]]

    form = await _post(
        organiser,
        "/evaluation-forms",
        {
            "org_unit_id": unit["id"],
            "name": "培训质量评估表",
            "allow_comments": False,
            "indicators": [
                {"subject": "session", "code": "content", "label": "内容", "weight": 3},
                {"subject": "session", "code": "delivery", "label": "组织实施", "weight": 2},
                {"subject": "session", "code": "organisation", "label": "后勤服务", "weight": 1},
                {"subject": "course", "code": "content", "label": "课程内容", "weight": 1},
                {"subject": "teacher", "code": "delivery", "label": "讲授水平", "weight": 2},
                {"subject": "teacher", "code": "preparation", "label": "备课", "weight": 1},
            ],
        },
    )
    r = await organiser.put(f"{session_url}/evaluation", json={"form_id": form["id"]})
    assert r.status_code == 200, r.text

    # 12 trainees, all present at both parts.
    trainees: list[httpx.AsyncClient] = []
    enrollments = []
    for n in range(12):
        cadre = await create_cadre(organiser, unit["id"], name=f"学员{n:02d}号")
        r = await organiser.post(f"{session_url}/enrollments", json={"cadre_id": cadre["id"]})
        assert r.status_code == 201, r.text
        enrollments.append(r.json()["id"])
        trainees.append(await client_for(Role.cadre, cadre_id=cadre["id"]))
    marks = [
        {"enrollment_id": e, "session_part_id": p, "mark": "present"}
        for e in enrollments
        for p in parts
    ]
    r = await organiser.post(f"{session_url}/attendance", json={"marks": marks})
    assert r.status_code == 200, r.text

    # Close: 12 completed, 12 certificates; the evaluation opens today.
    r = await organiser.post(f"{session_url}/close")
    assert r.status_code == 200, r.text
    assert r.json()["completed"] == 12
    r = await organiser.get(f"{session_url}/certificates")
    certificates = r.json()["items"]
    assert len(certificates) == 12

    evaluation = (await trainees[0].get(f"{session_url}/evaluation")).json()
    assert (evaluation["status"], evaluation["eligible_count"]) == ("open", 12)
    assert evaluation["me"] == {"may_answer": True, "has_answered": False}

    # 9 answer: all rate the session, the first 7 teacher T, the first 3 course C.
    for n, scores in enumerate(SESSION_SCORES):
        ratings: list[dict[str, Any]] = [
            {"subject": "session", "subject_id": None, "scores": list(scores)}
        ]
        if n < len(TEACHER_SCORES):
            ratings.append(
                {"subject": "teacher", "subject_id": t["id"], "scores": list(TEACHER_SCORES[n])}
            )
        if n < len(COURSE_SCORES):
            ratings.append(
                {"subject": "course", "subject_id": c["id"], "scores": list(COURSE_SCORES[n])}
            )
        r = await trainees[n].post(
            f"{session_url}/evaluation/answers", json={"ratings": ratings, "comments": []}
        )
        assert r.status_code == 204, r.text

    # While open: the counts, no figures.
    report = (await organiser.get(f"{session_url}/evaluation/report")).json()
    assert report["status"] == "open"
    assert all(g["figures"] is None for g in report["groups"])

    r = await organiser.post(f"{session_url}/evaluation/close")
    assert r.status_code == 200, r.text
    r = await organiser.get(f"{session_url}/evaluation/report")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["status"] == "closed"
    groups = {(g["subject"], g["subject_id"]): g for g in report["groups"]}
    assert {k: g["answers"] for k, g in groups.items()} == {
        ("session", ts["id"]): 9,
        ("teacher", t["id"]): 7,
        ("course", c["id"]): 3,
        ("course", d["id"]): 0,
        ("teacher", u["id"]): 0,
    }
    session = groups[("session", ts["id"])]
    expected = _hand_computed()
    assert session["figures"]["weighted_score"] == expected["weighted_score"]
    assert session["figures"]["satisfaction_rate"] == expected["satisfaction_rate"]
    assert {i["code"]: i["mean"] for i in session["figures"]["indicators"]} == expected["means"]
    # The teacher 7 rated: (15 + 12 + 13 + 10 + 14 + 11 + 15) / 3 = 30 over 7 = 4.29; ≥ 4: 5/7.
    teacher = groups[("teacher", t["id"])]
    assert teacher["label"] == "唐老师"
    assert (teacher["figures"]["weighted_score"], teacher["figures"]["satisfaction_rate"]) == (
        "4.29",
        "0.7143",
    )
    # The course only 3 rated: nothing shown.
    course = groups[("course", c["id"])]
    assert (course["label"], course["figures"], course["withheld"]) == (
        "党性教育",
        None,
        "too_few_answers",
    )

    # Certificates verify in public; voiding one trainee's study log revokes that one.
    for certificate in certificates:
        r = await anonymous.get(f"{API}/certificates/verify/{certificate['verification_code']}")
        assert r.status_code == 200, r.text
        assert (r.json()["title"], r.json()["status"]) == ("科级干部任职培训班", "valid")
    voided = certificates[4]
    r = await organiser.post(f"{API}/study-logs/{voided['study_log_id']}/void")
    assert r.status_code == 200, r.text
    statuses = {}
    for certificate in certificates:
        r = await anonymous.get(f"{API}/certificates/verify/{certificate['verification_code']}")
        statuses[certificate["id"]] = r.json()["status"]
    assert statuses == {
        certificate["id"]: "revoked" if certificate is voided else "valid"
        for certificate in certificates
    }
