"""Derivation texts (credits, compliance and closing explanations) and the remaining details
(rule reasons in problem details, sync refusals, import and sync row messages) in zh-CN by
default and in English on `Accept-Language: en` (app/i18n.py). The two answers to the same call
differ only in words: same keys, codes, pointers, statuses and figures."""

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from app.credit_policy.engine import Compliance, compliance
from app.credit_policy.engine.records import LogRecord
from app.credit_policy.errors import NoPolicyForDate
from app.credit_policy.policy import CN_2023, policy_in_force
from app.enum_labels import ENUM_LABELS, label
from app.enums import Language, Rank, Requirement, StudyLogKind, StudyLogStatus
from app.errors import _validation_message
from app.i18n import LOCALE_DIR, current_language, gettext
from tests.factories import API, create_cadre, create_log, create_org_unit, create_session
from tests.test_i18n import _without_language
from tests.test_sync import item

CJK = re.compile(r"[\u4e00-\u9fff]")
# A figure as the engine shows it: 5.71, 40/7, 2024-01-01 (three figures), 10%.
FIGURE = re.compile(r"\d+(?:\.\d+)?")
# The human texts of an answer; everything else is data and must not change with the language.
TEXT_KEYS = {"title", "detail", "explanation", "rule", "notes", "reason", "message"}
PER_REQUEST = {"request_id", "elapsed_seconds"}
# A code in a Chinese text: `section_member`, `centralised_training`; and any enum value as a
# word of its own (`competent`, `annual`, `pending`). The texts name them by their labels.
CODE = re.compile(r"[a-z]+_[a-z_]+")
ENUM_VALUES = {
    str(value) for cls, values in ENUM_LABELS.items() if cls is not Language for value in values
}
WORD = re.compile(r"[A-Za-z_]+")
ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def _texts(value: Any, key: str | None = None) -> Iterator[str]:
    """Every human text in a JSON value (under TEXT_KEYS, at any depth)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _texts(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v, key)
    elif isinstance(value, str) and key in TEXT_KEYS:
        yield value


def _assert_no_codes(name: str, body: Any) -> None:
    """No code and no bare enum value in a Chinese answer's texts (docs/rules.md and policy
    codes such as cn-2023 are names, not codes)."""
    texts = list(_texts(body))
    assert texts, (name, "no human text")
    for said in texts:
        assert CJK.search(said), (name, said)
        assert not CODE.search(said), (name, said)
        words = set(WORD.findall(said.replace("docs/rules.md", "")))
        assert not words & ENUM_VALUES, (name, said, words & ENUM_VALUES)


def _words_removed(value: Any) -> Any:
    """The answer without its human texts (and the per-request id)."""
    if isinstance(value, dict):
        return {
            k: _words_removed(v)
            for k, v in value.items()
            if k not in TEXT_KEYS and k not in PER_REQUEST
        }
    if isinstance(value, list):
        return [_words_removed(v) for v in value]
    return value


def _assert_differ_only_in_words(name: str, zh: httpx.Response, en: httpx.Response) -> None:
    assert zh.status_code == en.status_code, (name, zh.text, en.text)
    assert zh.headers["content-type"] == en.headers["content-type"], name
    assert (zh.headers["content-language"], en.headers["content-language"]) == ("zh-CN", "en")
    zh_body, en_body = zh.json(), en.json()
    assert _words_removed(zh_body) == _words_removed(en_body), name
    zh_texts, en_texts = list(_texts(zh_body)), list(_texts(en_body))
    assert len(zh_texts) == len(en_texts), name
    assert zh_texts, (name, "no human text to compare")
    for zh_text, en_text in zip(zh_texts, en_texts, strict=True):
        assert CJK.search(zh_text), (name, zh_text)
        assert not CJK.search(en_text), (name, en_text)
        # Numbers keep their exact formatting: the same figures, in the order each language puts
        # them in.
        assert sorted(FIGURE.findall(zh_text)) == sorted(FIGURE.findall(en_text)), (
            name,
            zh_text,
            en_text,
        )


async def _both(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[httpx.Response, httpx.Response]:
    headers = kwargs.pop("headers", {})
    zh = await client.request(method, url, headers={**headers, **ZH}, **kwargs)
    en = await client.request(method, url, headers={**headers, **EN}, **kwargs)
    return zh, en


async def _cadre_with_history(client: httpx.AsyncClient) -> dict[str, Any]:
    """A section member short of the 2024 annual requirement, with a capped kind, a pending log
    (not counted) and a log across New Year (pro rata)."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="section_member")
    centralised = {"kind": "centralised_training", "status": "approved"}
    await create_log(
        client,
        cadre["id"],
        **centralised,
        hours="40",
        days="5",
        start_date="2024-05-06",
        end_date="2024-05-10",
    )
    await create_log(
        client,
        cadre["id"],
        **centralised,
        hours="14",
        days="7",
        start_date="2024-12-28",
        end_date="2025-01-03",
    )
    await create_log(
        client, cadre["id"], hours="7.5", start_date="2024-06-01", end_date="2024-06-01"
    )
    await create_log(
        client,
        cadre["id"],
        hours="3",
        status="pending",
        start_date="2024-07-01",
        end_date="2024-07-01",
    )
    return cadre


async def test_credits_and_compliance_explanations_follow_accept_language(
    client: httpx.AsyncClient, transport: httpx.ASGITransport
) -> None:
    cadre = await _cadre_with_history(client)
    for name, url, params in (
        ("credits", f"{API}/cadres/{cadre['id']}/credits", {"year": 2024}),
        ("compliance", f"{API}/cadres/{cadre['id']}/compliance", {"as_of": "2024-12-31"}),
    ):
        en = await client.get(url, params=params, headers=EN)
        assert en.status_code == 200, en.text
        # A request that names no language is answered in zh-CN, the default.
        async with _without_language(client, transport) as plain:
            default = await plain.get(url, params=params)
        _assert_differ_only_in_words(name, default, en)
        _assert_no_codes(name, default.json())
    compliance = default.json()
    annual = compliance["annual"]["explanation"]
    head = "2024 年年度学习要求，学时政策 cn-2023（docs/rules.md 规则 5）"
    assert annual.startswith(head), annual
    assert "未达标：尚差" in annual, annual
    english = en.json()["annual"]["explanation"]
    assert english.startswith("Annual requirement 2024, policy cn-2023"), english
    five_year = compliance["five_year"]["explanation"]
    assert five_year.startswith("五年脱产培训要求，"), five_year
    assert five_year.endswith("职务层次科员及以下不适用此要求；数据仅供参考。"), five_year
    credits = (await client.get(f"{API}/cadres/{cadre['id']}/credits?year=2024", headers=ZH)).json()
    notes = " ".join(credits["notes"])
    assert "仅统计已审核的记录" in notes, notes
    assert "未统计" in notes, notes
    assert "（待审核）" in notes, notes
    assert "年度学习要求计入集中培训的认定学时" in notes, notes


async def _closable_session(client: httpx.AsyncClient) -> str:
    """Worked example 4 (docs/rules.md rule 7): 40 h, 5 days, cap 40/7; one trainee within the
    cap, one above it, one above it with an exception."""
    unit = await create_org_unit(client)
    ts = await create_session(client, unit["id"], days="5", credit_hours="40")
    for leave, reason in (("4", None), ("6", None), ("6", "住院手术,经组织部批准")):
        cadre = await create_cadre(client, unit["id"])
        r = await client.post(
            f"{API}/training-sessions/{ts['id']}/enrollments", json={"cadre_id": cadre["id"]}
        )
        assert r.status_code == 201, r.text
        r = await client.patch(
            f"{API}/enrollments/{r.json()['id']}",
            json={"leave_hours": leave, "leave_exception_reason": reason},
        )
        assert r.status_code == 200, r.text
    return str(ts["id"])


def _outcomes(body: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (o["status"], o["leave_hours"], o["hours"], o["explanation"]) for o in body["outcomes"]
    )


async def test_closing_explanations_follow_accept_language(
    client: httpx.AsyncClient, transport: httpx.ASGITransport
) -> None:
    """Closing decides once: two alike sessions, one closed in each language."""
    en_session, zh_session = await _closable_session(client), await _closable_session(client)
    en = await client.post(f"{API}/training-sessions/{en_session}/close", headers=EN)
    async with _without_language(client, transport) as plain:
        zh = await plain.post(f"{API}/training-sessions/{zh_session}/close")
    assert (en.status_code, zh.status_code) == (200, 200), (en.text, zh.text)
    assert zh.headers["content-language"] == "zh-CN"
    en_rows, zh_rows = _outcomes(en.json()), _outcomes(zh.json())
    assert [r[:3] for r in en_rows] == [r[:3] for r in zh_rows]
    for (*_, en_text), (*_, zh_text) in zip(en_rows, zh_rows, strict=True):
        assert "学时" in zh_text, zh_text
        assert sorted(FIGURE.findall(zh_text)) == sorted(FIGURE.findall(en_text)), (
            zh_text,
            en_text,
        )
    _assert_no_codes("closing", zh.json())
    texts = [r[3] for r in zh_rows]
    assert texts == [
        "请假 4 学时，未超过请假上限（40 学时 × 1/7 = 5.71 学时，docs/rules.md 规则 7）："
        "结业，认定 40 − 4 = 36 学时、5 × 36/40 = 4.50 天",
        "请假 6 学时，超过请假上限（40 学时 × 1/7 = 5.71 学时，docs/rules.md 规则 7），"
        "但主办单位已批准请假例外（住院手术,经组织部批准）："
        "结业，认定 40 − 6 = 34 学时、5 × 34/40 = 4.25 天",
        "请假 6 学时，超过请假上限（40 学时 × 1/7 = 5.71 学时，docs/rules.md 规则 7）："
        "退学，不认定学时",
    ], texts


async def _failing_calls(client: httpx.AsyncClient) -> list[tuple[str, str, str, dict[str, Any]]]:
    """One representative failing call of each kind, as (name, method, url, request kwargs)."""
    unit = await create_org_unit(client)
    county = await create_org_unit(client, kind="county")
    short = await _cadre_with_history(client)
    other = await create_cadre(client, unit["id"])
    # Ten cadres in a county, for a snapshot that would deactivate half of them.
    items = [item(f"DRV{n:02d}", county["code"]) for n in range(10)]
    assert (await client.post(f"{API}/sync/cadres", json={"items": items})).status_code == 200
    bad_rows = [
        {
            "hr_id": "NOPE",
            "kind": "online_course",
            "title": "x",
            "start_date": "2024-01-01",
            "end_date": "2024-01-01",
            "hours": "1",
        },
        {
            "hr_id": other["hr_id"],
            "kind": "galaxy",
            "title": "x",
            "start_date": "2024-01-01",
            "end_date": "2024-01-01",
            "hours": "1",
        },
        {
            "hr_id": other["hr_id"],
            "kind": "online_course",
            "title": "x",
            "start_date": "2024-01-02",
            "end_date": "2024-01-01",
            "hours": "1",
        },
        {
            "hr_id": other["hr_id"],
            "kind": "online_course",
            "title": "x",
            "start_date": "2024-01-01",
            "end_date": "2099-01-01",
            "hours": "1",
        },
        {
            "hr_id": other["hr_id"],
            "kind": "online_course",
            "title": "x",
            "start_date": "2024-01-01",
            "end_date": "2024-01-01",
            "hours": "1.234",
        },
        "not an object",
    ]
    sync_rows = [
        item("DRV00", "NO-SUCH-UNIT"),
        item("DRV01", county["code"], rank="galaxy"),
        item("DRV01", county["code"]),
        item("DRV01", county["code"]),
    ]
    return [
        ("404", "GET", f"{API}/cadres/00000000-0000-4000-8000-000000000000/credits", {}),
        (
            "409 business rule with a derived reason",
            "POST",
            f"{API}/assessments",
            {"json": {"cadre_id": short["id"], "year": 2024, "rating": "excellent"}},
        ),
        (
            "422 with field errors",
            "POST",
            f"{API}/training-sessions",
            {"json": {"title": "", "form": "galaxy", "days": "-1", "capacity": "many"}},
        ),
        (
            "412",
            "PATCH",
            f"{API}/org-units/{county['id']}",
            {"json": {"name": "x"}, "headers": {"If-Match": '"999"'}},
        ),
        (
            "import with bad rows",
            "POST",
            f"{API}/imports/study-logs",
            {"json": {"items": bad_rows}, "params": {"dry_run": True}},
        ),
        (
            "sync refusal",
            "POST",
            f"{API}/sync/cadres",
            {"json": {"items": items[:5], "mode": "snapshot", "snapshot_of": county["code"]}},
        ),
        (
            "sync with bad rows",
            "POST",
            f"{API}/sync/cadres",
            {"json": {"items": sync_rows, "dry_run": True}},
        ),
    ]


async def test_the_same_failing_calls_differ_only_in_words(client: httpx.AsyncClient) -> None:
    for name, method, url, kwargs in await _failing_calls(client):
        zh, en = await _both(client, method, url, **kwargs)
        assert zh.status_code in {200, 404, 409, 412, 422}, (name, zh.text)
        _assert_differ_only_in_words(name, zh, en)
        if zh.status_code == 200:  # the row messages are the words
            rows = zh.json().get("problems") or zh.json().get("results")
            assert any(r.get("errors") or r.get("detail") for r in rows), (name, zh.text)


@pytest.mark.parametrize(
    ("language", "detail"),
    [
        ("zh-CN", "2024-01-01 没有生效的学时政策"),
        ("en", "no credit policy is in force on 2024-01-01"),
    ],
)
def test_no_policy_for_a_date_is_said_in_the_language_of_the_request(
    language: str, detail: str
) -> None:
    token = current_language.set(language)
    try:
        with pytest.raises(NoPolicyForDate) as caught:
            policy_in_force([], date(2024, 1, 1))
    finally:
        current_language.reset(token)
    assert caught.value.detail == detail


async def test_assessment_reasons_and_override_details_name_no_codes(
    client: httpx.AsyncClient,
) -> None:
    """The 409 of an unmet training condition, a snapshot's `reason` and explanations, and the
    refusal of an override that overrides nothing, in zh-CN: labels, never codes."""
    cadre = await _cadre_with_history(client)
    body = {"cadre_id": cadre["id"], "year": 2024, "rating": "excellent"}
    r = await client.post(f"{API}/assessments", json=body, headers=ZH)
    assert r.status_code == 409, r.text
    _assert_no_codes("409", r.json())
    assert r.json()["detail"].startswith("年末未完成培训要求：年度学习要求；"), r.json()
    r = await client.post(
        f"{API}/assessments",
        json={**body, "rating": "competent", "override_reason": "组织部批准"},
        headers=ZH,
    )
    assert r.status_code == 422, r.text
    _assert_no_codes("override not needed", r.json())
    assert "考核等次为称职" in r.json()["detail"], r.json()
    r = await client.post(f"{API}/assessments", json={**body, "rating": "competent"}, headers=ZH)
    assert r.status_code == 201, r.text
    snapshot = r.json()["training_snapshot"]
    _assert_no_codes("snapshot", snapshot)
    assert snapshot["reason"] == "年末未完成培训要求：年度学习要求", snapshot


async def test_a_snapshot_says_the_language_of_its_texts(client: httpx.AsyncClient) -> None:
    """`training_snapshot.lang` names the language its four texts were frozen in, whatever the
    language of a later request."""
    unit = await create_org_unit(client)
    for language, expected in ((ZH, "zh-CN"), (EN, "en")):
        cadre = await create_cadre(client, unit["id"], rank="section_member")
        r = await client.post(
            f"{API}/assessments",
            json={"cadre_id": cadre["id"], "year": 2024, "rating": "competent"},
            headers=language,
        )
        assert r.status_code == 201, r.text
        for later in (ZH, EN):
            got = await client.get(f"{API}/assessments/{r.json()['id']}", headers=later)
            snapshot = got.json()["training_snapshot"]
            assert snapshot["lang"] == expected, snapshot
            texts = [snapshot["reason"]] + [
                snapshot[block]["explanation"] for block in ("five_year", "annual", "online")
            ]
            assert all(bool(CJK.search(t)) == (expected == "zh-CN") for t in texts), texts


async def test_a_snapshot_frozen_before_lang_existed_reads_as_english(
    client: httpx.AsyncClient, db_conn: Any
) -> None:
    """Snapshots were frozen in English before `lang` was stored: one without it says `en`."""
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"], rank="section_member")
    r = await client.post(
        f"{API}/assessments",
        json={"cadre_id": cadre["id"], "year": 2024, "rating": "competent"},
        headers=ZH,  # `lang` says zh-CN until it is dropped
    )
    assert (r.status_code, r.json()["training_snapshot"]["lang"]) == (201, "zh-CN"), r.text
    await db_conn.execute(
        text("UPDATE assessment SET training_snapshot = training_snapshot - 'lang' WHERE id = :id"),
        {"id": r.json()["id"]},
    )
    got = await client.get(f"{API}/assessments/{r.json()['id']}", headers=ZH)
    assert got.status_code == 200, got.text
    assert got.json()["training_snapshot"]["lang"] == "en"


def _zh_compliance(rank: Rank) -> Compliance:
    logs = [
        LogRecord(
            "a",
            StudyLogKind.centralised_training,
            date(2024, 5, 6),
            date(2024, 5, 10),
            Decimal(40),
            Decimal(5),
            StudyLogStatus.approved,
        ),
    ]
    token = current_language.set("zh-CN")
    try:
        return compliance(logs, date(2024, 12, 31), rank, None, [CN_2023])
    finally:
        current_language.reset(token)


def test_the_chinese_derivation_words() -> None:
    """和/或 join Chinese words, a space only where a figure follows; one name per requirement,
    its label; the annual figures are after the caps; the online span is followed by a comma."""
    leading = _zh_compliance(Rank.county_division)
    five_year = leading.five_year.explanation
    assert five_year.startswith(label(Requirement.five_year, Language.zh_cn) + "，"), five_year
    assert "要求 90 天或 550 学时，分别比较。" in five_year, five_year
    assert five_year.endswith("未达标：尚差 85 天和 510 学时。"), five_year
    other = _zh_compliance(Rank.section_member)
    annual = other.annual.explanation
    assert annual.startswith("2024 年" + label(Requirement.annual, Language.zh_cn) + "，"), annual
    assert "计入 40 学时（集中培训的认定学时，已按年度上限封顶）" in annual, annual
    assert "要求 集中培训 12 天或计入 90 学时。" in annual, annual
    assert annual.endswith("未达标：尚差 7 天和 50 学时。"), annual
    assert "统计期间 2024-01-01…2024-12-31，网络培训认定 0 学时" in other.online.explanation
    assert leading.annual.explanation.endswith("职务层次县处级不适用此要求；数据仅供参考。")


def test_the_catalogue_names_each_requirement_once() -> None:
    """The roll-call reasons and the derivations use the labels' names of the requirements
    (五年脱产培训要求, 年度学习要求), never 五年累计 or a bare 年度要求; overrides are 特批;
    the time zone is 北京时间."""
    catalogue = (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").read_text("utf-8")
    translated = "\n".join(
        line for line in catalogue.splitlines() if line.startswith(("msgstr", '"'))
    )
    for wrong in ("五年累计", "年度要求", "越过", "Asia/Shanghai", "按项"):
        assert wrong not in translated, wrong
    assert gettext("five-year requirement not met", "zh-CN") == "五年脱产培训要求未达标"
    assert (gettext(" and ", "zh-CN"), gettext(" or ", "zh-CN")) == ("和", "或")


def test_pydantic_field_types_are_translated() -> None:
    error = {
        "type": "too_long",
        "msg": "List should have at most 12 items after validation, not 13",
        "ctx": {"field_type": "List", "max_length": 12, "actual_length": 13},
    }
    assert _validation_message(error, "zh-CN") == "列表最多只能有 12 项，实际为 13 项"


def test_the_snapshot_schema_names_its_language_and_rank_group(app: FastAPI) -> None:
    """`lang` (Language) and `rank_group` (RankGroup, with labels) are enums in the contract."""
    schemas = app.openapi()["components"]["schemas"]
    snapshot = schemas["TrainingSnapshot"]
    assert snapshot["properties"]["lang"]["$ref"] == "#/components/schemas/Language"
    assert "lang" in snapshot["required"]
    for name in ("TrainingSnapshot", "ComplianceRead"):
        rank_group = schemas[name]["properties"]["rank_group"]
        assert rank_group == {"$ref": "#/components/schemas/RankGroup"}, name
    labels = schemas["RankGroup"]["x-enum-labels"]["zh-CN"]
    assert labels == {"leading": "领导干部", "other": "其他干部"}
