"""Labels: every enum value the API exposes has a zh-CN and an en label, published in the
contract (`x-enum-labels`) and at `GET /api/v1/meta/labels`, the same words in both."""

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.enums import AssessmentRating, Language, Rank, Role
from app.labels import LABELS
from tests.conftest import ClientFor
from tests.factories import API, create_cadre, create_org_unit

CONTRACT = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


def _enum_schemas(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    # ProblemCode's words are each problem answer's own `title`, in the language asked for.
    schemas: dict[str, dict[str, Any]] = doc["components"]["schemas"]
    return {name: s for name, s in schemas.items() if "enum" in s and name != "ProblemCode"}


def test_every_value_of_every_enum_in_the_contract_has_both_labels(app: FastAPI) -> None:
    # The contract as published and as the app builds it: a new enum, or a new value of one,
    # without labels fails here.
    for doc in (json.loads(CONTRACT.read_text()), app.openapi()):
        enums = _enum_schemas(doc)
        assert enums, "the contract has enum schemas"
        for name, schema in enums.items():
            labels = schema.get("x-enum-labels")
            assert labels is not None, f"{name} has no x-enum-labels"
            assert set(labels) == {"zh-CN", "en"}, name
            for lang, words in labels.items():
                assert list(words) == schema["enum"], (name, lang)
                assert all(isinstance(w, str) and w.strip() for w in words.values()), (name, lang)


def test_the_label_table_covers_exactly_each_enums_values() -> None:
    for cls, values in LABELS.items():
        assert set(values) == set(cls), cls.__name__
        for value, (zh, en) in values.items():
            assert zh.strip(), (cls.__name__, value)
            assert en.strip(), (cls.__name__, value)
            # zh-CN labels are Chinese, except the names of file formats
            assert zh != en or zh.isascii(), (cls.__name__, value)


def test_labelled_enums_are_all_in_the_contract(app: FastAPI) -> None:
    # A label entry for a class the contract does not name (a renamed schema) is dead data.
    assert {cls.__name__ for cls in LABELS} <= set(_enum_schemas(app.openapi()))


@pytest.mark.parametrize(
    ("cls", "value", "zh", "en"),
    [
        (Rank, Rank.county_division, "县处级", "County or division level"),
        (Rank, Rank.township_section, "乡科级", "Township or section level"),
        (AssessmentRating, AssessmentRating.basically_competent, "基本称职", "Basically competent"),
        (AssessmentRating, AssessmentRating.incompetent, "不称职", "Incompetent"),
    ],
)
def test_official_terms(cls: type[StrEnum], value: StrEnum, zh: str, en: str) -> None:
    assert LABELS[cls][value] == (zh, en)


def _from_contract(doc: dict[str, Any], lang: str | None) -> dict[str, dict[str, dict[str, str]]]:
    """The contract's `x-enum-labels` (language → value → label) as the endpoint answers them
    (schema → value → language → label)."""
    langs = [lang] if lang else ["zh-CN", "en"]
    return {
        name: {
            value: {lg: schema["x-enum-labels"][lg][value] for lg in langs}
            for value in schema["enum"]
        }
        for name, schema in _enum_schemas(doc).items()
    }


@pytest.mark.parametrize("lang", [None, "zh-CN", "en"])
async def test_endpoint_answers_what_the_contract_says(
    client: httpx.AsyncClient, app: FastAPI, lang: str | None
) -> None:
    r = await client.get(f"{API}/meta/labels", params={"lang": lang} if lang else {})
    assert r.status_code == 200, r.text
    assert r.json() == _from_contract(app.openapi(), lang)
    assert r.headers["cache-control"] == "private, max-age=3600"
    assert r.headers["etag"].startswith('"')


async def test_endpoint_is_cacheable_by_etag(client: httpx.AsyncClient) -> None:
    first = await client.get(f"{API}/meta/labels")
    tag = first.headers["etag"]
    again = await client.get(f"{API}/meta/labels", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == tag
    # another language is another representation, with its own tag
    english = await client.get(
        f"{API}/meta/labels", params={"lang": "en"}, headers={"If-None-Match": tag}
    )
    assert english.status_code == 200
    assert english.headers["etag"] != tag
    assert english.json()["Rank"]["county_division"] == {"en": "County or division level"}


async def test_every_role_may_read_labels(client_for: ClientFor, client: httpx.AsyncClient) -> None:
    unit = await create_org_unit(client)
    cadre = await create_cadre(client, unit["id"])
    for role in Role:
        if role == Role.org_admin:
            c = await client_for(role, org_unit_id=unit["id"])
        elif role == Role.cadre:
            c = await client_for(role, cadre_id=cadre["id"])
        else:
            c = await client_for(role)
        r = await c.get(f"{API}/meta/labels", params={"lang": "zh-CN"})
        assert r.status_code == 200, (role, r.text)
        assert r.json()["AssessmentRating"]["excellent"] == {"zh-CN": "优秀"}


async def test_labels_need_a_token(anonymous: httpx.AsyncClient) -> None:
    r = await anonymous.get(f"{API}/meta/labels")
    assert r.status_code == 401
    # only the labels themselves may be kept; a problem is not
    assert r.headers["cache-control"] == "no-store"


async def test_unknown_language_is_a_problem(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{API}/meta/labels", params={"lang": "fr"})
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    assert set(Language) == {"zh-CN", "en"}


@pytest.mark.parametrize(
    ("lang", "asked", "said"),
    [("zh-CN", "en", "zh-CN"), ("en", "zh-CN", "en"), (None, "en", "zh-CN, en")],
)
async def test_content_language_is_the_one_of_the_words(
    client: httpx.AsyncClient, lang: str | None, asked: str, said: str
) -> None:
    """`Content-Language` follows `lang`, not Accept-Language: the body holds the words of
    `lang` only (of both languages without it), whatever the header asks."""
    r = await client.get(
        f"{API}/meta/labels",
        params={"lang": lang} if lang else {},
        headers={"Accept-Language": asked},
    )
    assert r.status_code == 200, r.text
    assert r.headers["Content-Language"] == said
    assert set(r.json()["Rank"]["county_division"]) == set(said.split(", "))
    again = await client.get(
        f"{API}/meta/labels",
        params={"lang": lang} if lang else {},
        headers={"Accept-Language": asked, "If-None-Match": r.headers["etag"]},
    )
    assert again.status_code == 304
