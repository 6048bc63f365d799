"""HTTP helpers shared by the routers: the typed settings dependency, ETags, If-Match, and the
errors an operation declares."""

from collections import defaultdict
from collections.abc import AsyncIterable, AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.config import Settings
from app.errors import AppError, PreconditionFailed, Problem
from app.i18n import _

API_PREFIX = "/api/v1"


def settings_of(request: Request) -> Settings:
    """The settings the application was created with (`create_app(settings)`)."""
    settings: Settings = request.app.state.settings
    return settings


# Dependencies are `async def` even when they await nothing: FastAPI runs a plain `def`
# dependency in a worker thread, two thread hops a request (issue 16's profile).
async def app_settings(request: Request) -> Settings:
    return settings_of(request)


AppSettings = Annotated[Settings, Depends(app_settings)]

IfMatch = Annotated[
    str | None,
    Header(
        max_length=200,
        description="ETag from a previous read; the update is refused with 412 if it changed",
    ),
]


# For an answer whose ETag is not the answered record's own (app.openapi declares that one by
# rule): a record carried inside the answer, a file.
ETAG_DECLARED: dict[str, Any] = {"headers": {"ETag": {"$ref": "#/components/headers/ETag"}}}


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
    raise PreconditionFailed(_("The current ETag is {etag}.").format(etag=etag(version)))


def problems(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors an operation can give (rendered as problem+json): by
    status, the titles and codes in the description and the codes as `x-problem-codes`, which
    app.openapi turns into the response's schema (`code` narrowed to them)."""
    by_status: dict[int, list[type[AppError]]] = defaultdict(list)
    for err in errors:
        by_status[err.status].append(err)
    out: dict[int | str, dict[str, Any]] = {}
    for status, errs in sorted(by_status.items()):
        codes = ", ".join(f"`{e.code}`" for e in errs)
        titles = "; ".join(dict.fromkeys(e.title for e in errs))
        out[status] = {
            "model": Problem,
            "description": f"{titles} (code: {codes})",
            "x-problem-codes": list(dict.fromkeys(e.code for e in errs)),
        }
    return out


class PrimedStreamingResponse(StreamingResponse):
    """A streamed answer whose first chunk is made before the status line is sent. A fault
    before it (the database unreachable, the pool exhausted, the first query past the statement
    timeout) is still answered as a problem (503 with Retry-After), never as a 200 whose body
    is missing."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.body_iterator = await _primed(self.body_iterator)
        await super().__call__(scope, receive, send)


async def _primed(chunks: AsyncIterable[Any]) -> AsyncIterator[Any]:
    iterator = aiter(chunks)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        first = None

    async def resumed() -> AsyncIterator[Any]:
        if first is None:
            return
        yield first
        async for chunk in iterator:
            yield chunk

    return resumed()
