"""HTTP helpers shared by the routers: the typed settings dependency, ETags, If-Match, and the
errors an operation declares."""

from collections import defaultdict
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response

from app.config import Settings
from app.errors import AppError, PreconditionFailed, Problem

API_PREFIX = "/api/v1"


def app_settings(request: Request) -> Settings:
    """The settings the application was created with (`create_app(settings)`)."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(app_settings)]

IfMatch = Annotated[
    str | None,
    Header(
        max_length=200,
        description="ETag from a previous read; the update is refused with 412 if it changed",
    ),
]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """RFC 9110 §13.1.1: `*` or any listed tag equal to the current one passes."""
    if if_match is None:
        return
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags or etag(version) in tags:
        return
    raise PreconditionFailed(f"The current ETag is {etag(version)}.")


def problems(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors an operation can give (rendered as problem+json)."""
    by_status: dict[int, list[type[AppError]]] = defaultdict(list)
    for err in errors:
        by_status[err.status].append(err)
    out: dict[int | str, dict[str, Any]] = {}
    for status, errs in sorted(by_status.items()):
        codes = ", ".join(f"`{e.code}`" for e in errs)
        titles = "; ".join(dict.fromkeys(e.title for e in errs))
        out[status] = {"model": Problem, "description": f"{titles} (code: {codes})"}
    return out
