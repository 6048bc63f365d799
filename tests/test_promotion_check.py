"""The promotion check through the API (docs/rules.md rule 15): it says what the compliance view
says once the move is really made (by PATCH), with the figures and the steps, in the caller's
scope, in zh-CN or en."""

from datetime import date
from typing import Any

import httpx
import pytest

from app.clock import pinned
from app.enums import Role
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_log, create_org_unit
from tests.test_platform import assert_problem

DAY = date(2026, 3, 2)  # the window is 2021-03-03 … 2026-03-02
NEXT = date(2026, 3, 3)
CENTRALISED = {"kind": "centralised_training", "status": "approved"}
STATUS_OF = {
    "meets": "met",
    "needs_catch_up": "in_grace",
    "not_met": "not_met",
    "not_applicable": "not_applicable",
}


async def _cadre(
    client: httpx.AsyncClient, unit_id: str, *, hours: str, days: str, **post: Any
) -> dict[str, Any]:
    """A cadre with one centralised class wholly inside the window of DAY and of NEXT."""
    cadre = await create_cadre(client, unit_id, **post)
    await create_log(
        client,
        cadre["id"],
        **CENTRALISED,
        start_date="2023-05-08",
        end_date="2023-07-26",
        days=days,
        hours=hours,
    )
    return cadre


async def _check(client: httpx.AsyncClient, cadre_id: str, **params: str) -> dict[str, Any]:
    r = await client.get(f"{API}/cadres/{cadre_id}/promotion-check", params=params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("post_now", "target", "hours", "days", "outcome", "move"),
    [
        # 549.99 h and 80 days: a hair short of 550 h.
        (
            {"rank": "township_section", "post_type": "non_leading"},
            {"rank": "county_division", "post_type": "leading"},
            "549.99",
            "80",
            "needs_catch_up",
            "higher_rank",
        ),
        # 一级主任科员 → 四级调研员: a grade, no grace year.
        (
            {"rank": "township_section", "post_type": "non_leading"},
            {"rank": "county_division", "post_type": "non_leading"},
            "549.99",
            "80",
            "not_met",
            "grade_only",
        ),
        # 四级调研员 → 副县长: a stated grade becomes a leading post at the same rank.
        (
            {"rank": "county_division", "post_type": "non_leading"},
            {"rank": "county_division", "post_type": "leading"},
            "549.99",
            "80",
            "needs_catch_up",
            "leading_post_same_rank",
        ),
        # Exactly 550 h.
        (
            {"rank": "section_member", "post_type": "non_leading"},
            {"rank": "county_division", "post_type": "leading"},
            "550",
            "40",
            "meets",
            "higher_rank",
        ),
        # A 县长 on record without a post type (non_leading, never stated): naming his leading
        # post classifies it, no promotion, no grace.
        (
            {"rank": "county_division"},
            {"rank": "county_division", "post_type": "leading"},
            "549.99",
            "80",
            "not_met",
            "post_type_classified",
        ),
        # A leading post below the leading ranks (科员 → 乡镇长): no five-year requirement.
        (
            {"rank": "section_member", "post_type": "non_leading"},
            {"rank": "township_section", "post_type": "leading"},
            "10",
            "2",
            "not_applicable",
            "below_leading_ranks",
        ),
    ],
)
async def test_the_check_says_what_compliance_says_after_the_real_move(
    client: httpx.AsyncClient,
    post_now: dict[str, str],
    target: dict[str, str],
    hours: str,
    days: str,
    outcome: str,
    move: str,
) -> None:
    unit = await create_org_unit(client)
    with pinned(DAY):
        cadre = await _cadre(client, unit["id"], hours=hours, days=days, **post_now)
        check = await _check(
            client, cadre["id"], target_rank=target["rank"], post_type=target["post_type"]
        )
        assert (check["on"], check["outcome"], check["move"]) == (DAY.isoformat(), outcome, move)
        r = await client.patch(f"{API}/cadres/{cadre['id']}", json=target)
        assert r.status_code == 200, r.text
        moved = r.json()
    assert moved["promoted_on"] == check["promoted_on"]
    assert check["promotion_into_leading_post"] is (moved["promoted_on"] == DAY.isoformat())
    for as_of in (DAY, NEXT):
        r = await client.get(
            f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": as_of.isoformat()}
        )
        five = r.json()["five_year"]
        assert five["status"] == STATUS_OF[outcome], (as_of, five)
        if outcome == "needs_catch_up":
            assert five["grace_deadline"] == check["grace_deadline"] == "2027-03-02"
        else:
            assert check["grace_deadline"] is None
    # On the day itself, the very figures.
    r = await client.get(
        f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": DAY.isoformat()}
    )
    five = r.json()["five_year"]
    figures = (
        "window_start",
        "window_end",
        "centralised_days",
        "centralised_hours",
        "required_days",
        "required_hours",
        "shortfall_days",
        "shortfall_hours",
    )
    assert {k: check[k] for k in figures} == {k: five[k] for k in figures}
    assert check["five_year"]["status"] == five["status"]


async def test_figures_shortfall_and_steps(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await _cadre(
        client,
        unit["id"],
        hours="549.99",
        days="80",
        rank="township_section",
        post_type="non_leading",
    )
    check = await _check(
        client,
        cadre["id"],
        target_rank="county_division",
        post_type="leading",
        on=DAY.isoformat(),
    )
    assert check["policy_code"] == "cn-2023"
    assert (check["window_start"], check["window_end"]) == ("2021-03-03", "2026-03-02")
    assert (check["centralised_days"], check["centralised_hours"]) == ("80.00", "549.99")
    assert (check["required_days"], check["required_hours"]) == ("90.00", "550.00")
    assert (check["shortfall_days"], check["shortfall_hours"]) == ("10.00", "0.01")
    assert check["grace_deadline"] == "2027-03-02"
    assert (check["rank"], check["post_type"]) == ("township_section", "non_leading")
    assert (check["target_rank"], check["target_post_type"]) == ("county_division", "leading")
    assert len(check["steps"]) == 4
    assert check["steps"][3] == (
        "4. Needs catch-up: not met, but a promotion into a leading post may be made; the "
        "training is to be completed within 1 year(s) of it, by 2027-03-02 (N2)."
    )
    assert check["explanation"] == " ".join(check["steps"])
    # A day still to come counts the logs on file, as the compliance view's as_of does.
    later = await _check(
        client, cadre["id"], target_rank="county_division", post_type="leading", on="2027-01-01"
    )
    assert later["window_start"] == "2022-01-02"
    assert later["centralised_hours"] == "549.99"


async def test_languages(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await _cadre(
        client,
        unit["id"],
        hours="100",
        days="10",
        rank="township_section",
        post_type="non_leading",
    )
    url = f"{API}/cadres/{cadre['id']}/promotion-check"
    params = {"target_rank": "county_division", "post_type": "non_leading", "on": "2026-03-02"}
    zh = await client.get(url, params=params, headers={"Accept-Language": "zh-CN"})
    en = await client.get(url, params=params, headers={"Accept-Language": "en"})
    assert (zh.headers["content-language"], en.headers["content-language"]) == ("zh-CN", "en")
    zh_body, en_body = zh.json(), en.json()
    assert "县处级" in zh_body["steps"][0]
    assert "职级" in zh_body["steps"][0]
    assert "county_division (non_leading)" in en_body["steps"][0]
    assert "a leading rank without a leading post has no grace year" in en_body["steps"][3]
    assert zh_body["steps"][3] != en_body["steps"][3]
    texts = ("steps", "explanation", "five_year")
    assert {k: v for k, v in zh_body.items() if k not in texts} == {
        k: v for k, v in en_body.items() if k not in texts
    }


async def test_problems(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    url = f"{API}/cadres/{cadre['id']}/promotion-check"
    r = await client.get(url, params={"target_rank": "colonel", "post_type": "leading"})
    body = assert_problem(r, 422, "validation_failed")
    assert [e["pointer"] for e in body["errors"]] == ["/query/target_rank"]
    r = await client.get(url, params={"target_rank": "county_division", "post_type": "boss"})
    body = assert_problem(r, 422, "validation_failed")
    assert [e["pointer"] for e in body["errors"]] == ["/query/post_type"]
    r = await client.get(url, params={"target_rank": "county_division"})
    assert_problem(r, 422, "validation_failed")
    r = await client.get(
        url, params={"target_rank": "county_division", "post_type": "leading", "on": "2026-02-30"}
    )
    assert_problem(r, 422, "validation_failed")
    r = await client.get(
        f"{API}/cadres/00000000-0000-4000-8000-000000000000/promotion-check",
        params={"target_rank": "county_division", "post_type": "leading"},
    )
    assert_problem(r, 404, "cadre.not_found")


async def test_scope_follows_the_compliance_read(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    city = await create_org_unit(client)
    a = await create_org_unit(client, city["id"], kind="county", name="来安县")
    b = await create_org_unit(client, city["id"], kind="county", name="全椒县")
    cadre = await create_cadre(client, a["id"])
    colleague = await create_cadre(client, a["id"])
    params = {"target_rank": "county_division", "post_type": "leading"}

    async def status(c: httpx.AsyncClient, cadre_id: str) -> int:
        r = await c.get(f"{API}/cadres/{cadre_id}/promotion-check", params=params)
        if r.status_code == 404:
            assert_problem(r, 404, "cadre.not_found")
        return r.status_code

    other_county = await client_for(Role.org_admin, org_unit_id=b["id"])
    own_county = await client_for(Role.org_admin, org_unit_id=a["id"])
    itself = await client_for(Role.cadre, cadre_id=cadre["id"])
    assert await status(other_county, cadre["id"]) == 404
    assert await status(own_county, cadre["id"]) == 200
    assert await status(itself, cadre["id"]) == 200
    assert await status(itself, colleague["id"]) == 404
    for role in (Role.auditor, Role.hr_system):
        assert await status(await client_for(role), cadre["id"]) == 200


async def test_an_earlier_promotions_grace_carries_over_a_move_that_is_none(
    client: httpx.AsyncClient,
) -> None:
    """Promoted to 厅局级 on 2025-09-01 (grace until 2026-09-01), then moved down to a 县处级
    post on DAY: no promotion, the stored promoted_on stays, and so does its grace."""
    unit = await create_org_unit(client)
    cadre = await _cadre(
        client, unit["id"], hours="100", days="10", rank="county_division", post_type="leading"
    )
    with pinned(date(2025, 9, 1)):
        r = await client.patch(f"{API}/cadres/{cadre['id']}", json={"rank": "department_bureau"})
        assert r.json()["promoted_on"] == "2025-09-01", r.text
    with pinned(DAY):
        check = await _check(
            client, cadre["id"], target_rank="county_division", post_type="leading"
        )
        assert (check["move"], check["outcome"]) == ("lower_rank", "needs_catch_up")
        assert (check["promoted_on"], check["grace_deadline"]) == ("2025-09-01", "2026-09-01")
        assert check["promotion_into_leading_post"] is False
        r = await client.patch(f"{API}/cadres/{cadre['id']}", json={"rank": "county_division"})
        assert r.json()["promoted_on"] == "2025-09-01", r.text
    r = await client.get(
        f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": DAY.isoformat()}
    )
    five = r.json()["five_year"]
    assert (five["status"], five["grace_deadline"]) == ("in_grace", "2026-09-01")
    # After that grace, the same move is not_met, as the compliance view says then.
    after = await _check(
        client,
        cadre["id"],
        target_rank="county_division",
        post_type="leading",
        on="2026-09-02",
    )
    assert (after["outcome"], after["grace_deadline"]) == ("not_met", None)
    r = await client.get(f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": "2026-09-02"})
    assert r.json()["five_year"]["status"] == "not_met"
