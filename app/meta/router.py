"""`GET /api/v1/meta/labels`: the words for every enum value, as the contract gives them."""

import hashlib
import json
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import RootModel

from app.enums import Language
from app.http import API_PREFIX
from app.labels import label_table

router = APIRouter(prefix=f"{API_PREFIX}/meta", tags=["meta"])

# Labels change only with a new release: a client keeps them an hour, then revalidates.
CACHE_CONTROL = "private, max-age=3600"
_STR = {"type": "string"}


class EnumLabels(RootModel[dict[str, dict[str, dict[Language, str]]]]):
    """Enum schema name → value → language → label, e.g.
    `{"Rank": {"county_division": {"zh-CN": "县处级", "en": "County or division level"}}}`."""


@cache
def _answer(language: Language | None) -> tuple[bytes, str]:
    body = json.dumps(label_table(language), ensure_ascii=False, separators=(",", ":")).encode()
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


@router.get(
    "/labels",
    operation_id="getLabels",
    summary="Labels of every enum value",
    response_model=EnumLabels,
    responses={
        200: {
            "headers": {
                "ETag": {"description": "Send it back as `If-None-Match`", "schema": _STR},
                "Cache-Control": {"description": f"`{CACHE_CONTROL}`", "schema": _STR},
            }
        },
        304: {"description": "Not modified: the labels named by `If-None-Match` are current"},
    },
)
async def get_labels(
    lang: Annotated[
        Language | None, Query(description="Only this language; both when omitted")
    ] = None,
    if_none_match: Annotated[
        str | None,
        Header(max_length=200, description="ETag of labels already held; 304 if unchanged"),
    ] = None,
) -> Response:
    """The zh-CN and en labels of every enum value the API exposes, by the enum's schema name
    (the same words as each enum schema's `x-enum-labels` in the contract), so that web and
    mobile clients show the same words. `Content-Language` says the language of the words: `lang`
    when given, `zh-CN, en` otherwise. Cacheable: send the `ETag` back as `If-None-Match`."""
    body, tag = _answer(lang)
    # The words are those of `lang`, or of both languages: never the Accept-Language's.
    language = lang.value if lang is not None else ", ".join(Language)
    headers = {"ETag": tag, "Cache-Control": CACHE_CONTROL, "Content-Language": language}
    if if_none_match is not None:
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        if "*" in tags or tag in tags:
            return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
