"""Qualifications with validity (docs/rules.md rule 13): granting on completion, and the status
of each qualification a cadre's post requires, against real PostgreSQL."""

import uuid
from datetime import date

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cadre.models import Cadre
from app.enums import QualificationStatus, Role, TrainingForm
from app.qualification import service
from app.qualification.models import QualificationType
from tests.conftest import ClientFor
from tests.factories import create_cadre, create_org_unit, create_session


async def _world(
    client: httpx.AsyncClient, db: AsyncSession, **cadre_fields: str
) -> tuple[Cadre, QualificationType, QualificationType]:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county", name="南谯区")
    cadre = await create_cadre(client, county["id"], **cadre_fields)
    organiser = QualificationType(
        org_unit_id=uuid.UUID(city["id"]),
        name="组工干部任职资格",
        validity_years=3,
        required_post_types=["leading"],
        required_ranks=[],
        required_org_unit_ids=[],
        granting_forms=["rotation_class", "refresher"],
        granting_course_ids=[],
    )
    unrequired = QualificationType(
        org_unit_id=uuid.UUID(city["id"]),
        name="档案管理",
        validity_years=1,
        required_post_types=[],
        required_ranks=[],
        required_org_unit_ids=[],
        granting_forms=["rotation_class"],
        granting_course_ids=[],
    )
    db.add_all([organiser, unrequired])
    await db.flush()
    found = await db.get(Cadre, uuid.UUID(cadre["id"]))
    assert found is not None
    return found, organiser, unrequired


async def test_completion_grants_each_type_listing_the_form_once(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with isolated_sessionmaker() as db:
        cadre, organiser, unrequired = await _world(client, db)
        granted = await service.grant_from_completion(
            db, cadre.id, TrainingForm.rotation_class, date(2026, 3, 1), "2026 春季轮训班结业"
        )
        assert {(g.qualification_type_id, g.valid_until) for g in granted} == {
            (organiser.id, date(2029, 3, 1)),
            (unrequired.id, date(2027, 3, 1)),
        }
        again = await service.grant_from_completion(
            db, cadre.id, TrainingForm.rotation_class, date(2026, 3, 1), "again"
        )
        assert again == []
        other = await service.grant_from_completion(
            db, cadre.id, TrainingForm.seminar, date(2026, 3, 1), "研讨班"
        )
        assert other == []
        # the grant is audited like every write (migration 0013's trigger)
        audited = await db.scalar(
            text(
                "SELECT count(*) FROM audit_event WHERE entity_type = 'cadre_qualification' "
                "AND entity_id = :id"
            ),
            {"id": granted[0].id},
        )
        assert audited == 1


async def test_required_block_follows_the_post_and_the_day(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with isolated_sessionmaker() as db:
        cadre, organiser, _ = await _world(client, db, rank="county_division", post_type="leading")
        assert str(cadre.post_type) == "leading"
        missing = await service.required_of(db, cadre, date(2026, 6, 1), 90)
        assert [(r.qualification_type.id, r.held, r.status) for r in missing] == [
            (organiser.id, None, None)
        ]
        await service.grant_from_completion(
            db, cadre.id, TrainingForm.refresher, date(2026, 3, 1), "进修班"
        )
        cases = [
            (date(2028, 12, 1), QualificationStatus.valid, True),
            (date(2028, 12, 2), QualificationStatus.expiring, True),
            (date(2029, 3, 1), QualificationStatus.expiring, True),
            (date(2029, 3, 2), QualificationStatus.expired, False),
        ]
        for day, status, covered in cases:
            (block,) = await service.required_of(db, cadre, day, 90)
            assert (block.status, block.covered) == (status, covered), day
            assert block.held is not None
            assert block.held.valid_until == date(2029, 3, 1)


API = "/api/v1"


async def test_api_types_record_status_and_revoke(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county", name="南谯区")
    other = await create_org_unit(client)
    cadre = await create_cadre(client, county["id"], rank="county_division", post_type="leading")
    org_admin = await client_for(Role.org_admin, org_unit_id=county["id"])

    body = {"org_unit_id": city["id"], "name": "任职资格", "validity_years": 3}
    refused = await org_admin.post(f"{API}/qualification-types", json=body)
    # the city lies outside the org_admin's subtree: as if it did not exist
    assert refused.json()["code"] == "org_unit.reference_not_found", refused.text
    r = await client.post(
        f"{API}/qualification-types",
        json={**body, "required_post_types": ["leading"], "granting_forms": ["rotation_class"]},
    )
    assert r.status_code == 201, r.text
    qtype = r.json()
    again = await client.post(f"{API}/qualification-types", json=body)
    assert again.json()["code"] == "qualification.type_exists"
    listed = await org_admin.get(f"{API}/qualification-types")
    assert listed.json()["items"] == []  # owned above its subtree

    held = await org_admin.post(
        f"{API}/cadres/{cadre['id']}/qualifications",
        json={
            "qualification_type_id": qtype["id"],
            "valid_from": "2026-03-01",
            "evidence": "证书 2026-017",
        },
    )
    assert held.status_code == 201, held.text
    assert held.json()["valid_until"] == "2029-03-01"
    assert held.json()["granted_by_form"] is None
    statuses = [
        (await client.get(f"{API}/cadres/{cadre['id']}/qualifications", params={"on": on})).json()[
            "items"
        ][0]["status"]
        for on in ("2026-02-28", "2028-12-01", "2028-12-02", "2029-03-01", "2029-03-02")
    ]
    assert statuses == [None, "valid", "expiring", "expiring", "expired"]

    outsider = await client_for(Role.org_admin, org_unit_id=other["id"])
    hidden = await outsider.get(f"{API}/cadres/{cadre['id']}/qualifications")
    assert hidden.status_code == 404
    not_theirs = await outsider.post(
        f"{API}/cadre-qualifications/{held.json()['id']}/revoke", json={"reason": "x"}
    )
    assert not_theirs.status_code == 404

    revoked = await org_admin.post(
        f"{API}/cadre-qualifications/{held.json()['id']}/revoke",
        json={"reason": "证书系伪造"},
    )
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["status"], revoked.json()["revoke_reason"]) == ("revoked", "证书系伪造")
    twice = await org_admin.post(
        f"{API}/cadre-qualifications/{held.json()['id']}/revoke", json={"reason": "again"}
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "qualification.already_revoked")


async def test_compliance_gains_a_qualifications_block(client: httpx.AsyncClient) -> None:
    city = await create_org_unit(client)
    cadre = await create_cadre(client, city["id"], rank="county_division", post_type="leading")
    url = f"{API}/cadres/{cadre['id']}/compliance"
    before = (await client.get(url, params={"as_of": "2026-06-01"})).json()
    assert before["qualifications"] == []
    qtype = (
        await client.post(
            f"{API}/qualification-types",
            json={
                "org_unit_id": city["id"],
                "name": "领导干部任职资格",
                "validity_years": 3,
                "required_post_types": ["leading"],
            },
        )
    ).json()
    missing = (await client.get(url, params={"as_of": "2026-06-01"})).json()
    assert missing["qualifications"] == [
        {
            "qualification_type_id": qtype["id"],
            "name": "领导干部任职资格",
            "held": False,
            "status": None,
            "valid_until": None,
            "cadre_qualification_id": None,
        }
    ]
    held = (
        await client.post(
            f"{API}/cadres/{cadre['id']}/qualifications",
            json={
                "qualification_type_id": qtype["id"],
                "valid_from": "2026-03-01",
                "evidence": "证",
            },
        )
    ).json()
    on_the_edge = (await client.get(url, params={"as_of": "2028-12-02"})).json()
    (block,) = on_the_edge["qualifications"]
    assert (block["held"], block["status"], block["valid_until"]) == (
        True,
        "expiring",
        "2029-03-01",
    )
    assert block["cadre_qualification_id"] == held["id"]
    # the stable core is unchanged: the same fields as before, plus the block
    assert set(on_the_edge) == set(before)
    assert {k: v for k, v in missing.items() if k != "qualifications"} == {
        k: v for k, v in before.items() if k != "qualifications"
    }


async def test_unit_report_lists_missing_and_expiring_in_the_subtree(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    city = await create_org_unit(client)
    county = await create_org_unit(client, city["id"], kind="county", name="南谯区")
    sibling = await create_org_unit(client, city["id"], kind="county", name="琅琊区")
    leading = {"rank": "county_division", "post_type": "leading"}
    lacking = await create_cadre(client, county["id"], name="李四", **leading)
    soon = await create_cadre(client, county["id"], name="王五", **leading)
    fine = await create_cadre(client, county["id"], name="赵六", **leading)
    await create_cadre(client, county["id"], name="孙七")  # a non-leading post: not required
    elsewhere = await create_cadre(client, sibling["id"], name="周八", **leading)
    qtype = (
        await client.post(
            f"{API}/qualification-types",
            json={
                "org_unit_id": city["id"],
                "name": "任职资格",
                "validity_years": 3,
                "required_post_types": ["leading"],
            },
        )
    ).json()
    for cadre, valid_from in ((soon, "2023-06-30"), (fine, "2026-01-01")):
        r = await client.post(
            f"{API}/cadres/{cadre['id']}/qualifications",
            json={"qualification_type_id": qtype["id"], "valid_from": valid_from, "evidence": "证"},
        )
        assert r.status_code == 201, r.text
    # soon's is valid through 2026-06-30: 30 days left on 2026-06-01 (06-01 … 06-30)
    params = {"org_unit_id": county["id"], "on": "2026-06-01", "within_days": 30}
    org_admin = await client_for(Role.org_admin, org_unit_id=county["id"])
    r = await org_admin.get(f"{API}/reports/qualifications", params=params)
    assert r.status_code == 200, r.text
    report = r.json()
    assert [(row["cadre_id"], row["status"]) for row in report["missing"]] == [
        (lacking["id"], None)
    ]
    assert [(row["cadre_id"], row["status"], row["valid_until"]) for row in report["expiring"]] == [
        (soon["id"], "expiring", "2026-06-30")
    ]
    narrower = await org_admin.get(
        f"{API}/reports/qualifications", params={**params, "within_days": 29}
    )
    assert narrower.json()["expiring"] == []  # 30 days left is outside a 29-day window
    whole = (
        await client.get(
            f"{API}/reports/qualifications", params={**params, "org_unit_id": city["id"]}
        )
    ).json()
    assert {row["cadre_id"] for row in whole["missing"]} == {lacking["id"], elsewhere["id"]}
    hidden = await org_admin.get(
        f"{API}/reports/qualifications", params={**params, "org_unit_id": sibling["id"]}
    )
    assert (hidden.status_code, hidden.json()["code"]) == (404, "org_unit.not_found")


async def test_a_type_of_a_sibling_unit_is_neither_required_nor_granted(
    client: httpx.AsyncClient, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with isolated_sessionmaker() as db:
        cadre, _, _ = await _world(client, db, rank="county_division", post_type="leading")
        sibling = await create_org_unit(client, kind="county", name="琅琊区")
        db.add(
            QualificationType(
                org_unit_id=uuid.UUID(sibling["id"]),
                name="琅琊区任职资格",
                validity_years=2,
                required_post_types=["leading"],
                required_ranks=[],
                required_org_unit_ids=[],
                granting_forms=["seminar"],
                granting_course_ids=[],
            )
        )
        await db.flush()
        granted = await service.grant_from_completion(
            db, cadre.id, TrainingForm.seminar, date(2026, 3, 1), "研讨班"
        )
        assert granted == []
        required = await service.required_of(db, cadre, date(2026, 6, 1), 90)
        assert [r.qualification_type.name for r in required] == ["组工干部任职资格"]


async def test_closing_a_class_grants_the_qualifications_its_form_grants(
    client: httpx.AsyncClient,
) -> None:
    """The closing flow calls the hook: a completed trainee of a `refresher` class holds the
    type that lists `refresher`, valid from the class's last day (2025-03-07) for 3 years, so
    until 2028-03-06; a type that lists another form is not granted."""
    city = await create_org_unit(client)
    cadre = await create_cadre(client, city["id"])
    for name, forms in (("进修资格", ["refresher"]), ("轮训资格", ["rotation_class"])):
        r = await client.post(
            f"{API}/qualification-types",
            json={
                "org_unit_id": city["id"],
                "name": name,
                "validity_years": 3,
                "granting_forms": forms,
            },
        )
        assert r.status_code == 201, r.text
    ts = await create_session(client, city["id"])  # a refresher class, 2025-03-03 to 03-07
    r = await client.post(
        f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
    )
    assert r.status_code == 201, r.text
    assert (await client.post(f"{API}/training-sessions/{ts['id']}/close")).status_code == 200
    held = (await client.get(f"{API}/cadres/{cadre['id']}/qualifications")).json()["items"]
    assert [(q["valid_from"], q["valid_until"]) for q in held] == [("2025-03-07", "2028-03-07")]
    assert held[0]["granted_by_form"] == "refresher"


async def test_a_type_of_another_unit_is_not_recorded_on_a_cadre(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """County B's administrator cannot record county A's type on B's cadre: a type applies only
    where its unit's tree holds the cadre, and another unit's type is as unknown as a missing
    one (404), so its id tells nothing."""
    city = await create_org_unit(client)
    a = await create_org_unit(client, city["id"], kind="county", name="甲县")
    b = await create_org_unit(client, city["id"], kind="county", name="乙县")
    cadre = await create_cadre(client, b["id"])
    r = await client.post(
        f"{API}/qualification-types",
        json={"org_unit_id": a["id"], "name": "甲县资格", "validity_years": 3},
    )
    assert r.status_code == 201, r.text
    b_admin = await client_for(Role.org_admin, org_unit_id=b["id"])
    r = await b_admin.post(
        f"{API}/cadres/{cadre['id']}/qualifications",
        json={
            "qualification_type_id": r.json()["id"],
            "valid_from": "2026-03-01",
            "evidence": "证",
        },
    )
    assert (r.status_code, r.json()["code"]) == (404, "qualification.type_not_found"), r.text
    held = (await client.get(f"{API}/cadres/{cadre['id']}/qualifications")).json()["items"]
    assert held == []


async def test_validity_years_takes_a_json_integer_written_with_a_point(
    client: httpx.AsyncClient,
) -> None:
    """JSON Schema's integer includes 3.0, so the server takes it; a string or 3.5 is refused."""
    city = await create_org_unit(client)
    body = {"org_unit_id": city["id"], "name": "任职资格", "validity_years": 3.0}
    r = await client.post(f"{API}/qualification-types", json=body)
    assert (r.status_code, r.json()["validity_years"]) == (201, 3), r.text
    for wrong in ("3", 3.5):
        r = await client.post(
            f"{API}/qualification-types", json={**body, "name": "别的", "validity_years": wrong}
        )
        assert r.status_code == 422, r.text
