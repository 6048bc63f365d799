"""Resident ID numbers shown masked cannot be recovered (issue 10, high): the masked form leaves
at least 1,000 candidates given everything else a role that sees it reads, and no such role can
test a guess (searching by number is for admin and hr_system; a write naming a taken number counts
against the same per-user limit). `python -m tests.test_id_number_masking` prints the counts."""

import io
import itertools
import re
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import date
from functools import cache
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from app.cadre.rules import gender_of, mask
from app.config import Settings
from app.db import create_sessionmaker
from app.enums import Gender, Role
from app.main import create_app
from app.personal_data import without_birth_day
from tests.conftest import ClientFor, add_user, bearer
from tests.factories import API, cadre_body, create_cadre, create_log, create_org_unit, id_number
from tests.test_platform import assert_problem

# --- how many numbers fit what a role reads ------------------------------------------------


@cache
def _region_codes() -> tuple[str, ...]:
    """Every six-digit region code python-stdnum knows (GB/T 2260, with the years each was in
    use): what `app.cadre.rules.normalise` accepts."""
    codes = []
    for _, low, high, _, counties in numdb.get("cn/loc").prefixes:
        for province in range(int(low), int(high) + 1):
            for length, c_low, c_high, _, _ in counties:
                codes += [
                    f"{province:02d}{county:0{length}d}"
                    for county in range(int(c_low), int(c_high) + 1)
                ]
    return tuple(codes)


def _in_use(region: str, born: str) -> bool:
    """The region code existed in the birth year (python-stdnum's GB 11643 rule)."""
    try:
        ric.get_birth_place(f"{region}{born}0000")
    except ValidationError:
        return False
    return True


def candidates(
    shown: str, birth: date, gender: Gender, *, in_birth_year: bool = False, province: str = ""
) -> int:
    """The valid numbers (GB 11643: a region code, the birth date, the sequence code whose last
    digit is odd for men, the ISO 7064 check character) that show as `shown`, the region codes
    being those the service accepts (any known code: real numbers carry codes younger than their
    holders). `in_birth_year`: only the codes in use in the birth year, python-stdnum's stricter
    rule (fewer candidates; it may miss the real number); `province`: only that province's codes
    (a guess that the cadre was born where it works)."""
    born = f"{birth:%Y%m%d}"
    if any(c not in ("*", b) for c, b in zip(shown[6:14], born, strict=True)):
        return 0
    digits = [[shown[i]] if shown[i] != "*" else list("0123456789") for i in range(14, 17)]
    count = 0
    for region in _region_codes():
        if not region.startswith(province):
            continue
        if any(c not in ("*", r) for c, r in zip(shown[:6], region, strict=True)):
            continue
        if in_birth_year and not _in_use(region, born):
            continue
        for sequence in itertools.product(*digits):
            body = region + born + "".join(sequence)
            number = body + ric.calc_check_digit(body + "0")
            if shown[17] in ("*", number[17]) and gender_of(number) == gender:
                count += 1
    return count


# Real-looking cadres of 滁州市: born in its counties, in several decades, men and women.
PEOPLE = [
    ("341102", date(1968, 3, 12), Gender.female),  # 琅琊区
    ("341126", date(1975, 10, 1), Gender.male),  # 凤阳县
    ("341181", date(1962, 7, 28), Gender.male),  # 天长市
    ("341182", date(1983, 1, 19), Gender.female),  # 明光市
]


def test_the_mask_shows_no_character_at_the_same_length() -> None:
    assert mask("34110219800517105X") == "*" * 18


def candidates_in_month(shown: str, year: int, month: int, gender: Gender, region: str) -> int:
    """The numbers that fit when the reader knows the region code exactly (the cadre's unit is
    a county: its code, the strongest guess a reader can make) and the birth month, not the day
    (what a role that sees numbers masked reads: `birth_month`)."""
    days = (date(year + month // 12, month % 12 + 1, 1) - date(year, month, 1)).days
    return sum(
        candidates(shown, date(year, month, day), gender, province=region)
        for day in range(1, days + 1)
    )


async def _everything_shown(c: httpx.AsyncClient, cadre: dict[str, Any]) -> Iterator[str]:
    """Every ID number the cadre's record shows this client (reads, list, archive)."""
    shown = [
        (await c.get(f"{API}/cadres/{cadre['id']}")).json()["id_number"],
        (await c.get(f"{API}/cadres/by-hr-id/{cadre['hr_id']}")).json()["id_number"],
        (await c.get(f"{API}/cadres/{cadre['id']}/archive")).json()["cadre"]["id_number"],
    ]
    listed = await c.get(f"{API}/cadres", params={"org_unit_id": cadre["org_unit_id"]})
    shown += [x["id_number"] for x in listed.json()["items"] if x["id"] == cadre["id"]]
    return iter(shown)


@pytest.mark.parametrize(("region", "birth", "gender"), PEOPLE)
async def test_a_masked_number_leaves_at_least_1000_candidates(
    client: httpx.AsyncClient,
    client_for: ClientFor,
    region: str,
    birth: date,
    gender: Gender,
) -> None:
    county = await create_org_unit(client, kind="county", name="凤阳县")
    number = id_number(birth, male=gender is Gender.male, region=region)
    cadre = await create_cadre(
        client,
        county["id"],
        id_number=number,
        birth_date=birth.isoformat(),
        gender=gender.value,
    )
    readers = [
        await client_for(Role.org_admin, org_unit_id=county["id"]),
        await client_for(Role.auditor),
        await client_for(Role.cadre, cadre_id=cadre["id"]),
    ]
    for c in readers:
        # One masked form everywhere: nothing to combine.
        assert set(await _everything_shown(c, cadre)) == {mask(number)}
        read = (await c.get(f"{API}/cadres/{cadre['id']}")).json()
        assert (read["birth_date"], read["birth_month"], read["gender"]) == (
            None,
            f"{birth:%Y-%m}",
            gender.value,
        )
    # What they read: the mask, the birth month, the gender, the unit (so its region code).
    assert candidates_in_month(mask(number), birth.year, birth.month, gender, region) >= 1000
    assert candidates(mask(number), birth, gender) >= 1000
    # Even if only the codes in use in the birth year are tried.
    assert candidates(mask(number), birth, gender, in_birth_year=True) >= 1000
    # The counter itself: the whole number is one; the first mask (first four and last four)
    # left a handful of candidates, the second (the last three) one or two once the region
    # code and the birth date were known.
    assert candidates(number, birth, gender) == 1
    assert candidates(number[:4] + "*" * 10 + number[-4:], birth, gender) < 10
    assert candidates("*" * 15 + number[-3:], birth, gender, province=region) <= 2


# --- searching by number -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.admin, True),
        (Role.hr_system, True),
        (Role.auditor, False),
        (Role.org_admin, False),
        (Role.cadre, False),
    ],
)
async def test_only_roles_that_see_numbers_whole_search_by_them(
    client: httpx.AsyncClient, client_for: ClientFor, role: Role, allowed: bool
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    bound = {
        Role.org_admin: {"org_unit_id": unit["id"]},
        Role.cadre: {"cadre_id": cadre["id"]},
    }.get(role, {})
    c = await client_for(role, **bound)
    r = await c.get(f"{API}/cadres", params={"id_number": cadre["id_number"]})
    if allowed:
        assert [x["id"] for x in r.json()["items"]] == [cadre["id"]]
    else:
        assert_problem(r, 403, "cadre.id_number_search_forbidden")
        # Everything else about the list is as before.
        listed = await c.get(f"{API}/cadres", params={"org_unit_id": unit["id"]})
        assert [x["id"] for x in listed.json()["items"]] == [cadre["id"]]


@pytest.fixture
async def limited(
    settings: Settings, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[FastAPI]:
    """An app that allows 2 lookups by ID number per user and hour."""
    rate_limit = settings.rate_limit.model_copy(update={"id_number_lookups_per_hour": 2})
    app = create_app(settings.model_copy(update={"rate_limit": rate_limit}))
    async with app.router.lifespan_context(app):
        app.state.sessionmaker = isolated_sessionmaker
        yield app


async def _client(
    app: FastAPI, sessionmaker: async_sessionmaker[AsyncSession], role: Role, **bound: Any
) -> httpx.AsyncClient:
    user = await add_user(sessionmaker, role, **bound)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://t",
        headers=bearer(app.state.settings, user),
    )


async def test_searching_by_number_is_rate_limited_per_user(
    limited: FastAPI, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with (
        await _client(limited, isolated_sessionmaker, Role.admin) as admin,
        await _client(limited, isolated_sessionmaker, Role.hr_system) as hr,
    ):
        unit = await create_org_unit(admin)
        cadre = await create_cadre(admin, unit["id"])
        search = {"id_number": cadre["id_number"]}
        codes = [(await admin.get(f"{API}/cadres", params=search)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = await admin.get(f"{API}/cadres", params=search)
        assert_problem(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        # Other reads are not limited; another user has a count of its own.
        assert (await admin.get(f"{API}/cadres/{cadre['id']}")).status_code == 200
        assert (await hr.get(f"{API}/cadres", params=search)).status_code == 200


async def test_writes_that_could_reveal_a_taken_number_count_for_masked_roles(
    limited: FastAPI, isolated_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A 409 `cadre.id_number_taken` confirms a guess as a search would: an org_admin's writes
    that name a number new to the record count against the same limit, hits and misses alike."""
    async with await _client(limited, isolated_sessionmaker, Role.admin) as admin:
        unit = await create_org_unit(admin)
        taken = await create_cadre(admin, unit["id"])
        mine = await create_cadre(admin, unit["id"])
        async with (
            await _client(
                limited, isolated_sessionmaker, Role.org_admin, org_unit_id=unit["id"]
            ) as org_admin,
            await _client(limited, isolated_sessionmaker, Role.hr_system) as hr,
        ):
            guess = cadre_body(unit["id"], id_number=taken["id_number"])
            r = await org_admin.post(f"{API}/cadres", json=guess)
            assert_problem(r, 409, "cadre.id_number_taken")
            r = await org_admin.patch(
                f"{API}/cadres/{mine['id']}", json={"id_number": taken["id_number"]}
            )
            assert_problem(r, 409, "cadre.id_number_taken")
            r = await org_admin.post(f"{API}/cadres", json=cadre_body(unit["id"]))
            assert_problem(r, 429, "rate_limited")  # a miss would have created a cadre
            # Writes that name no new number are not lookups.
            r = await org_admin.patch(f"{API}/cadres/{mine['id']}", json={"position": "副科长"})
            assert r.status_code == 200, r.text
            # Roles that see numbers whole learn nothing from a 409: not counted.
            for _ in range(3):
                r = await hr.post(f"{API}/cadres", json=guess)
                assert_problem(r, 409, "cadre.id_number_taken")


# --- everywhere a number leaves the service ------------------------------------------------


def _xlsx_text(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        return "".join(book.read(name).decode() for name in book.namelist())


def _assert_no_more_than_masked(text: str, number: str) -> None:
    assert number not in text
    assert number[:-3] not in text  # nothing beyond the last three characters
    assert not re.search(r"[0-9]{4}\*+[0-9]{3}", text)  # no older, wider masked form


@pytest.mark.parametrize("role", [Role.org_admin, Role.auditor])
async def test_archives_and_exports_show_no_more_than_the_mask(
    client: httpx.AsyncClient, client_for: ClientFor, role: Role
) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    await create_log(client, cadre["id"])
    number = cadre["id_number"]
    c = await client_for(role, **({"org_unit_id": unit["id"]} if role is Role.org_admin else {}))
    archive = f"{API}/cadres/{cadre['id']}/archive"
    r = await c.get(archive)
    assert r.json()["cadre"]["id_number"] == mask(number)
    _assert_no_more_than_masked(r.text.replace(mask(number), ""), number)
    for fmt in ("csv", "xlsx"):
        for url in (archive, f"{API}/org-units/{unit['id']}/archive"):
            r = await c.get(
                url, params={"format": fmt, **({"year": 2024} if "org-units" in url else {})}
            )
            assert r.status_code == 200, r.text
            text = _xlsx_text(r.content) if fmt == "xlsx" else r.text
            assert cadre["hr_id"] in text  # the cadre is in it
            _assert_no_more_than_masked(text, number)


async def test_the_trail_hides_a_changed_number(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """The audit trail (admin, auditor) shows an ID number only as `<changed>`, on update too."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    new = id_number(date.fromisoformat(cadre["birth_date"]))
    r = await client.patch(f"{API}/cadres/{cadre['id']}", json={"id_number": new})
    assert r.status_code == 200, r.text
    auditor = await client_for(Role.auditor)
    r = await auditor.get(f"{API}/audit-events", params={"entity_id": cadre["id"]})
    events = r.json()["items"]
    assert [e["action"] for e in events] == ["create", "update"]
    assert events[1]["changes"] == {"id_number": "<changed>"}
    _assert_no_more_than_masked(r.text, cadre["id_number"])
    _assert_no_more_than_masked(r.text, new)


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from tests.conftest import empty_tables

    yield create_sessionmaker(engine)
    await empty_tables(engine)


async def test_the_change_feed_and_webhooks_hide_a_changed_number(
    app: FastAPI, settings: Settings, committed: async_sessionmaker[AsyncSession]
) -> None:
    """The feed (admin, hr_system, auditor) is what webhook messages carry (`ChangeRead`,
    tests/test_webhooks.py checks they are the same events): `<changed>`, never a number."""
    previous = app.state.sessionmaker
    app.state.sessionmaker = committed
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        admin = await add_user(committed, Role.admin)
        auditor = await add_user(committed, Role.auditor)
        async with (
            httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=bearer(settings, admin)
            ) as c,
            httpx.AsyncClient(
                transport=transport, base_url="http://t", headers=bearer(settings, auditor)
            ) as reader,
        ):
            start = (await reader.get(f"{API}/changes")).json()["next_cursor"]
            unit = await create_org_unit(c)
            cadre = await create_cadre(c, unit["id"])
            new = id_number(date.fromisoformat(cadre["birth_date"]))
            r = await c.patch(f"{API}/cadres/{cadre['id']}", json={"id_number": new})
            assert r.status_code == 200, r.text
            r = await reader.get(f"{API}/changes", params={"cursor": start, "limit": 500})
    finally:
        app.state.sessionmaker = previous
    items = [i for i in r.json()["items"] if i["entity_id"] == cadre["id"]]
    assert [i["action"] for i in items] == ["create", "update"]
    assert items[0]["changes"]["id_number"] == "<changed>"
    assert items[1]["changes"] == {"id_number": "<changed>"}
    _assert_no_more_than_masked(r.text, cadre["id_number"])
    _assert_no_more_than_masked(r.text, new)


if __name__ == "__main__":
    for region, birth, gender in PEOPLE:
        number = id_number(birth, male=gender is Gender.male, region=region)
        shown = mask(number)
        month = candidates_in_month(shown, birth.year, birth.month, gender, region)
        print(
            f"{shown} born {birth:%Y-%m} {gender.value}, region code known ({region}): {month}; "
            f"born {birth} with any known code: {candidates(shown, birth, gender)}; "
            f"the last three shown, region and birth date known: "
            f"{candidates('*' * 15 + number[-3:], birth, gender, province=region)}; "
            f"the first form: {candidates(number[:4] + '*' * 10 + number[-4:], birth, gender)}"
        )


async def test_the_trail_and_the_feed_show_a_masked_reader_the_birth_month(
    client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    """An auditor reads the audit trail (and the change feed, the same rows and the same
    function): a cadre's birth date there is year and month too (the number is `<changed>` for
    everyone); admin reads the day."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(
        client,
        unit["id"],
        id_number=id_number(date(1975, 10, 1), male=True),
        birth_date="1975-10-01",
        gender="male",
    )
    auditor = await client_for(Role.auditor)
    trail = (await auditor.get(f"{API}/audit-events", params={"entity_id": cadre["id"]})).json()[
        "items"
    ]
    assert trail[0]["changes"]["birth_date"] == "1975-10"
    assert trail[0]["changes"]["id_number"] == "<changed>"
    whole = (await client.get(f"{API}/audit-events", params={"entity_id": cadre["id"]})).json()
    assert whole["items"][0]["changes"]["birth_date"] == "1975-10-01"


def test_the_birth_day_is_taken_from_every_shape_of_a_change() -> None:
    assert without_birth_day("cadre", {"birth_date": "1975-10-01", "name": "王二"}) == {
        "birth_date": "1975-10",
        "name": "王二",
    }
    update: dict[str, object] = {"birth_date": {"before": "1975-10-01", "after": "1975-11-02"}}
    assert without_birth_day("cadre", update) == {
        "birth_date": {"before": "1975-10", "after": "1975-11"}
    }
    assert without_birth_day("study_log", {"birth_date": "1975-10-01"}) == {
        "birth_date": "1975-10-01"
    }
