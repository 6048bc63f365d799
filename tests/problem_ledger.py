"""Every problem answer the suite sees, held against the codes its operation declares.

The contract lists, per operation and status, the codes a problem answer can carry
(`x-problem-codes`, app.openapi). While the suite runs (tests/conftest.py), every answer an
httpx.ASGITransport carries goes past this ledger; at the end of the session an answer whose
(operation, status, code) the contract does not declare fails the run (`pytest_sessionfinish`
there), naming the first test that saw it. tests/test_schemathesis.py holds the live server's
answers to the same rule.
"""

import copy
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.errors import PROBLEM_MEDIA_TYPE

METHODS = {"get", "post", "put", "patch", "delete"}


def declared_codes(responses: Mapping[str, Any], status: int) -> set[str]:
    """The codes an operation's `responses` declare at `status`."""
    return set(responses.get(str(status), {}).get("x-problem-codes", []))


def is_problem(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip() == PROBLEM_MEDIA_TYPE


class ProblemLedger:
    def __init__(self) -> None:
        # (operationId, status, code) → the first test that saw it
        self.undeclared: dict[tuple[str, int, str], str] = {}
        self.seen = 0
        self._operations: dict[int, dict[str, Any]] = {}

    def observe(self, app: object, op_id: str, status: int, body: bytes) -> None:
        if not isinstance(app, FastAPI):
            return
        self.seen += 1
        code = str(httpx.Response(status, content=body).json().get("code"))
        doc = app.openapi()
        operations = self._operations.get(id(doc))
        if operations is None:
            operations = self._operations[id(doc)] = {
                op["operationId"]: op
                for item in doc["paths"].values()
                for method, op in item.items()
                if method in METHODS
            }
        if code not in declared_codes(operations[op_id]["responses"], status):
            test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" ", 1)[0]
            self.undeclared.setdefault((op_id, status, code), test)

    @contextmanager
    def recording(self) -> Iterator[None]:
        """Show the ledger every problem answer that an httpx.ASGITransport carries: the
        suite's clients (tests/conftest.py) and the transports tests build for apps of their
        own. The body is read here and handed on unchanged."""
        original = httpx.ASGITransport.handle_async_request
        ledger = self

        async def handle(self: httpx.ASGITransport, request: httpx.Request) -> httpx.Response:
            # The operation is the route the app dispatched to (`scope["route"]`, as the
            # metrics read it): None for an unknown path or a method the path lacks.
            scopes: list[Scope] = []
            app = self.app

            async def watched(scope: Scope, receive: Receive, send: Send) -> None:
                scopes.append(scope)
                await app(scope, receive, send)

            proxy = copy.copy(self)
            proxy.app = watched
            response = await original(proxy, request)
            route = scopes[0].get("route") if scopes else None
            op_id = getattr(route, "operation_id", None)
            # A 405 is the path's answer to a method none of its operations has.
            if request.method not in (getattr(route, "methods", None) or ()):
                op_id = None
            if op_id is None or not is_problem(response.headers.get("content-type")):
                return response
            body = b"".join([chunk async for chunk in response.aiter_raw()])
            ledger.observe(app, op_id, response.status_code, body)
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=httpx.ByteStream(body),
                extensions=response.extensions,
            )

        httpx.ASGITransport.handle_async_request = handle  # type: ignore[method-assign]
        try:
            yield
        finally:
            httpx.ASGITransport.handle_async_request = original  # type: ignore[method-assign]

    def report(self) -> list[str]:
        return [
            f"{op_id} answered {status} `{code}`, which its responses do not declare (first in "
            f"{test})"
            for (op_id, status, code), test in sorted(self.undeclared.items())
        ]


LEDGER = ProblemLedger()
