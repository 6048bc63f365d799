"""One promotion rule (docs/rules.md rule 4) on every path that writes a cadre: POST, PATCH,
PUT by HR id and the bulk sync; worked example 6."""

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest

from app.clock import pinned
from tests.factories import API, cadre_body, create_org_unit

SYNC_DAY = date(2025, 6, 1)

Cadre = dict[str, Any]
Raise = Callable[[httpx.AsyncClient, Cadre, dict[str, Any]], Awaitable[None]]


async def _by_patch(client: httpx.AsyncClient, cadre: Cadre, change: dict[str, Any]) -> None:
    r = await client.patch(f"{API}/cadres/{cadre['id']}", json=change)
    assert r.status_code == 200, r.text


async def _by_put(client: httpx.AsyncClient, cadre: Cadre, change: dict[str, Any]) -> None:
    """HR's whole record, as it stood, with the change."""
    body = {k: cadre[k] for k in ("name", "gender", "birth_date", "org_unit_id", "position")}
    body |= {"id_number": cadre["id_number"], "rank": cadre["rank"], **change}
    r = await client.put(f"{API}/cadres/by-hr-id/{cadre['hr_id']}", json=body)
    assert r.status_code == 200, r.text


async def _by_sync(
    client: httpx.AsyncClient, cadre: dict[str, Any], change: dict[str, Any]
) -> None:
    unit = (await client.get(f"{API}/org-units/{cadre['org_unit_id']}")).json()
    item = {k: cadre[k] for k in ("hr_id", "name", "id_number", "gender", "birth_date", "rank")}
    item |= {"org_unit_code": unit["code"], "position": cadre["position"], **change}
    r = await client.post(f"{API}/sync/cadres", json={"items": [item]})
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["rejected"] == 0, r.text


PATHS: dict[str, Raise] = {"PATCH": _by_patch, "PUT": _by_put, "sync": _by_sync}


async def _post(client: httpx.AsyncClient, unit_id: str, **fields: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/cadres", json=cadre_body(unit_id, **fields))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _post_of(cadre: dict[str, Any]) -> tuple[str, str, str | None]:
    return cadre["rank"], cadre["post_type"], cadre["promoted_on"]


async def test_the_four_paths_agree(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    with pinned(SYNC_DAY):
        # Creating a cadre is no promotion, even straight into a leading post.
        created = await _post(client, unit["id"], rank="county_division", post_type="leading")
        assert _post_of(created) == ("county_division", "leading", None)
        raised = {}
        for path, write in PATHS.items():
            cadre = await _post(client, unit["id"])
            assert _post_of(cadre) == ("township_section", "non_leading", None)
            await write(client, cadre, {"rank": "county_division", "post_type": "leading"})
            raised[path] = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert {path: _post_of(c) for path, c in raised.items()} == dict.fromkeys(
        PATHS, ("county_division", "leading", "2025-06-01")
    )
    # The audit trail (and the change feed, written with it) tells what changed, alike.
    for path, cadre in raised.items():
        events = (
            await client.get(f"{API}/audit-events", params={"entity_id": cadre["id"]})
        ).json()["items"]
        update = next(e for e in events if e["action"] == "update")
        assert {k: update["changes"][k] for k in ("rank", "post_type", "promoted_on")} == {
            "rank": {"before": "township_section", "after": "county_division"},
            "post_type": {"before": "non_leading", "after": "leading"},
            "promoted_on": {"before": None, "after": "2025-06-01"},
        }, path
        create = next(e for e in events if e["action"] == "create")
        assert create["changes"]["post_type"] == "non_leading", path


@pytest.mark.parametrize("path", list(PATHS))
async def test_the_same_write_again_keeps_the_date(client: httpx.AsyncClient, path: str) -> None:
    """Sent again later (HR's full record, no date named), a promotion is not a new one."""
    unit = await create_org_unit(client)
    cadre = await _post(client, unit["id"])
    change = {"rank": "county_division", "post_type": "leading"}
    with pinned(SYNC_DAY):
        await PATHS[path](client, cadre, change)
    # PUT and sync send HR's whole record: an empty date there names none.
    extra = {} if path == "PATCH" else {"promoted_on": None}
    with pinned(date(2025, 9, 1)):
        await PATHS[path](client, cadre, change | extra)
    after = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert after["promoted_on"] == "2025-06-01"


@pytest.mark.parametrize("path", list(PATHS))
async def test_a_grade_turned_into_a_leading_post_is_a_promotion(
    client: httpx.AsyncClient, path: str
) -> None:
    """四级调研员 → 副县长: the same rank, the grade stated by HR, now a leading post."""
    unit = await create_org_unit(client)
    cadre = await _post(
        client, unit["id"], rank="county_division", post_type="non_leading", position="四级调研员"
    )
    assert cadre["post_type_stated"] is True
    with pinned(SYNC_DAY):
        await PATHS[path](client, cadre, {"post_type": "leading", "position": "副县长"})
    after = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert _post_of(after) == ("county_division", "leading", "2025-06-01")
    assert after["post_type_stated"] is True
    assert await _five_year(client, after) == ("in_grace", "2026-06-01")


async def _five_year(client: httpx.AsyncClient, cadre: Cadre) -> tuple[str, str | None]:
    """The five-year block's status and grace deadline on 2025-12-31 (no training at all)."""
    r = await client.get(f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": "2025-12-31"})
    assert r.status_code == 200, r.text
    five = r.json()["five_year"]
    return five["status"], five["grace_deadline"]


@pytest.mark.parametrize("path", list(PATHS))
async def test_a_first_stated_leading_post_is_no_promotion(
    client: httpx.AsyncClient, path: str
) -> None:
    """The reviewer's case. A county leader on record before post types existed (or created
    without one) is `non_leading` only by default: HR stating `leading` for the first time
    classifies a post held all along. It must not start a grace year that day."""
    unit = await create_org_unit(client)
    cadre = await _post(client, unit["id"], rank="county_division", position="县长")
    assert (cadre["post_type"], cadre["post_type_stated"]) == ("non_leading", False)
    assert await _five_year(client, cadre) == ("not_met", None)
    with pinned(SYNC_DAY):
        await PATHS[path](client, cadre, {"post_type": "leading"})
    after = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert _post_of(after) == ("county_division", "leading", None)
    assert after["post_type_stated"] is True
    assert await _five_year(client, after) == ("not_met", None)
    # Stated now, a later change of grade and post is read as such: back to a grade ...
    with pinned(date(2025, 7, 1)):
        await PATHS[path](client, after, {"post_type": "non_leading"})
        # ... and into a leading post again at the same rank: a promotion.
        await PATHS[path](client, after, {"post_type": "leading"})
    again = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert _post_of(again) == ("county_division", "leading", "2025-07-01")


@pytest.mark.parametrize("path", list(PATHS))
async def test_a_rise_into_the_leading_ranks_is_a_promotion_stated_or_not(
    client: httpx.AsyncClient, path: str
) -> None:
    unit = await create_org_unit(client)
    cadre = await _post(client, unit["id"])  # township_section, post type left out
    assert cadre["post_type_stated"] is False
    with pinned(SYNC_DAY):
        await PATHS[path](client, cadre, {"rank": "county_division", "post_type": "leading"})
    after = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert _post_of(after) == ("county_division", "leading", "2025-06-01")
    assert await _five_year(client, after) == ("in_grace", "2026-06-01")


async def _create_by_put(client: httpx.AsyncClient, body: dict[str, Any]) -> Cadre:
    r = await client.put(f"{API}/cadres/by-hr-id/{body.pop('hr_id')}", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _create_by_sync(client: httpx.AsyncClient, body: dict[str, Any]) -> Cadre:
    unit = (await client.get(f"{API}/org-units/{body.pop('org_unit_id')}")).json()
    r = await client.post(
        f"{API}/sync/cadres", json={"items": [body | {"org_unit_code": unit["code"]}]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["created"] == 1, r.text
    return (await client.get(f"{API}/cadres/by-hr-id/{body['hr_id']}")).json()  # type: ignore[no-any-return]


async def _create_by_post(client: httpx.AsyncClient, body: dict[str, Any]) -> Cadre:
    r = await client.post(f"{API}/cadres", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


CREATE: dict[str, Callable[[httpx.AsyncClient, dict[str, Any]], Awaitable[Cadre]]] = {
    "POST": _create_by_post,
    "PUT": _create_by_put,
    "sync": _create_by_sync,
}


@pytest.mark.parametrize("path", list(CREATE))
@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({}, ("non_leading", False)),
        ({"post_type": "non_leading"}, ("non_leading", True)),
        ({"post_type": "leading"}, ("leading", True)),
    ],
)
async def test_a_new_cadre_s_post_type_is_stated_only_if_sent(
    client: httpx.AsyncClient,
    path: str,
    sent: dict[str, str],
    expected: tuple[str, bool],
) -> None:
    unit = await create_org_unit(client)
    with pinned(SYNC_DAY):
        cadre = await CREATE[path](client, cadre_body(unit["id"], rank="county_division") | sent)
    assert (cadre["post_type"], cadre["post_type_stated"]) == expected
    assert cadre["promoted_on"] is None  # creating a cadre is no promotion


async def test_post_type_stated_is_read_only(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    body = cadre_body(unit["id"], post_type_stated=True)
    r = await client.post(f"{API}/cadres", json=body)
    assert r.status_code == 422, r.text
    cadre = await _post(client, unit["id"])
    r = await client.patch(f"{API}/cadres/{cadre['id']}", json={"post_type_stated": True})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("path", list(PATHS))
async def test_a_date_sent_wins(client: httpx.AsyncClient, path: str) -> None:
    unit = await create_org_unit(client)
    cadre = await _post(client, unit["id"])
    with pinned(SYNC_DAY):
        await PATHS[path](
            client,
            cadre,
            {"rank": "county_division", "post_type": "leading", "promoted_on": "2025-05-20"},
        )
    after = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert _post_of(after) == ("county_division", "leading", "2025-05-20")


async def test_patch_null_clears_the_date_put_and_sync_null_name_none(
    client: httpx.AsyncClient,
) -> None:
    """PATCH names the fields it changes: null clears. PUT and sync send HR's whole record,
    where an empty date means HR knows none: the date on record stays."""
    unit = await create_org_unit(client)
    kept = {}
    for path in ("PUT", "sync", "PATCH"):
        cadre = await _post(
            client,
            unit["id"],
            rank="county_division",
            post_type="leading",
            promoted_on="2021-04-01",
        )
        await PATHS[path](client, cadre, {"promoted_on": None, "position": "县长"})
        kept[path] = (await client.get(f"{API}/cadres/{cadre['id']}")).json()["promoted_on"]
    assert kept == {"PUT": "2021-04-01", "sync": "2021-04-01", "PATCH": None}


async def test_put_and_sync_keep_a_post_type_they_leave_out(client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    for path in ("PUT", "sync"):
        cadre = await _post(client, unit["id"], rank="county_division", post_type="leading")
        await PATHS[path](client, cadre, {"position": "县长"})
        after = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
        assert (after["post_type"], after["position"]) == ("leading", "县长"), path


@pytest.mark.parametrize("path", list(PATHS))
async def test_example_6_promotion_into_a_leading_post_and_a_rise_of_grade(
    client: httpx.AsyncClient, path: str
) -> None:
    """Worked example 6 (docs/rules.md#example-6): P (领导职务) and Q (职级) raised to
    county_division on 2025-06-01, no date named, no centralised training at all; R, a county
    head whose post type was never stated, stated `leading` the same day."""
    unit = await create_org_unit(client)
    p = await _post(client, unit["id"], name="王芳", position="副镇长")
    q = await _post(client, unit["id"], name="赵强", position="一级主任科员")
    r = await _post(client, unit["id"], name="孙明", rank="county_division", position="县长")
    with pinned(SYNC_DAY):
        await PATHS[path](client, r, {"post_type": "leading"})
        await PATHS[path](
            client, p, {"rank": "county_division", "post_type": "leading", "position": "副县长"}
        )
        await PATHS[path](
            client,
            q,
            {"rank": "county_division", "post_type": "non_leading", "position": "四级调研员"},
        )
    p_read = (await client.get(f"{API}/cadres/{p['id']}")).json()
    q_read = (await client.get(f"{API}/cadres/{q['id']}")).json()
    assert _post_of(p_read) == ("county_division", "leading", "2025-06-01")
    assert _post_of(q_read) == ("county_division", "non_leading", None)

    async def five_year(cadre: dict[str, Any]) -> dict[str, Any]:
        r = await client.get(
            f"{API}/cadres/{cadre['id']}/compliance", params={"as_of": "2025-12-31"}
        )
        assert r.status_code == 200, r.text
        return r.json()["five_year"]  # type: ignore[no-any-return]

    p_five, q_five = await five_year(p), await five_year(q)
    assert (p_five["status"], p_five["grace_deadline"]) == ("in_grace", "2026-06-01")
    assert (p_five["centralised_days"], p_five["centralised_hours"]) == ("0.00", "0.00")
    assert (q_five["status"], q_five["grace_deadline"]) == ("not_met", None)
    assert (q_five["shortfall_days"], q_five["shortfall_hours"]) == ("90.00", "550.00")
    # R: a post type never stated, now stated `leading` at the same rank: no promotion.
    r_read = (await client.get(f"{API}/cadres/{r['id']}")).json()
    assert _post_of(r_read) == ("county_division", "leading", None)
    r_five = await five_year(r)
    assert (r_five["status"], r_five["grace_deadline"]) == ("not_met", None)
    assert (r_five["shortfall_days"], r_five["shortfall_hours"]) == ("90.00", "550.00")


async def test_a_rise_needs_a_post_type_that_was_never_stated(client: httpx.AsyncClient) -> None:
    """A rise into the leading ranks is a promotion for a post and none for a grade; a post type
    never stated (a default, or migration 0011's guess) is not guessed: the write must name it —
    on every path, and nothing changes meanwhile."""
    unit = await create_org_unit(client)
    cadre = await _post(client, unit["id"])  # township_section, post type left out
    rise = {"rank": "county_division"}
    r = await client.patch(f"{API}/cadres/{cadre['id']}", json=rise)
    assert (r.status_code, r.json()["code"]) == (422, "cadre.post_type_required")
    assert r.json()["errors"][0]["pointer"] == "/body/post_type"
    body = {k: cadre[k] for k in ("name", "gender", "birth_date", "org_unit_id", "position")}
    body |= {"id_number": cadre["id_number"], **rise}
    r = await client.put(f"{API}/cadres/by-hr-id/{cadre['hr_id']}", json=body)
    assert (r.status_code, r.json()["code"]) == (422, "cadre.post_type_required")
    code = (await client.get(f"{API}/org-units/{unit['id']}")).json()["code"]
    item = {k: cadre[k] for k in ("hr_id", "name", "id_number", "gender", "birth_date")}
    item |= {"org_unit_code": code, "position": cadre["position"], **rise}
    r = await client.post(f"{API}/sync/cadres", json={"items": [item]})
    assert r.status_code == 200, r.text
    (row,) = r.json()["results"]
    assert row["outcome"] == "rejected"
    assert (row["errors"][0]["code"], row["errors"][0]["pointer"]) == (
        "cadre.post_type_required",
        "/body/items/0/post_type",
    )
    after = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert (after["rank"], after["version"]) == ("township_section", cadre["version"])
    # A rise below the leading ranks needs nothing: it promotes no one either way.
    r = await client.patch(f"{API}/cadres/{cadre['id']}", json={"rank": "county_division"})
    assert r.status_code == 422
    low = await _post(client, unit["id"], rank="section_member")
    r = await client.patch(f"{API}/cadres/{low['id']}", json={"rank": "township_section"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["PUT", "sync"])
async def test_a_record_read_back_with_a_higher_rank_is_promoted_that_day(
    client: httpx.AsyncClient, path: str
) -> None:
    """HR sends its whole record: a rank rise that carries the stored promotion date along
    names no new date, so it promotes that day, as a PATCH of the rank alone does."""
    unit = await create_org_unit(client)
    cadre = await _post(
        client,
        unit["id"],
        rank="county_division",
        post_type="leading",
        promoted_on="2020-01-01",
    )
    with pinned(SYNC_DAY):
        await PATHS[path](
            client,
            cadre,
            {"rank": "department_bureau", "post_type": "leading", "promoted_on": "2020-01-01"},
        )
    after = (await client.get(f"{API}/cadres/{cadre['id']}")).json()
    assert _post_of(after) == ("department_bureau", "leading", "2025-06-01")
