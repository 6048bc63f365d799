"""Property-based contract testing: schemathesis drives every operation with data generated from
the published OpenAPI document, valid and invalid, and runs all its default checks (no server
errors, status codes, content types and bodies as documented, invalid data rejected, valid data
accepted, 405 with a correct Allow header...).

One adjustment, made explicit: a request can be valid by the schema yet break a rule no JSON
Schema can state (a resident ID number's check digit, a birth date that must match it, a cursor
this API never issued, `end_date` after `start_date`). Those answer 422 with an error whose code
names the rule. `positive_data_acceptance` therefore also accepts 422, and the stricter check
below takes its place: a schema-valid request must never fail a rule the schema *does* state.
"""

import asyncio
import copy
import itertools
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import create_sessionmaker
from app.enums import Role
from tests.conftest import add_user, bearer, empty_tables
from tests.live_server import live_server
from tests.problem_ledger import declared_codes, is_problem

# Error codes of rules outside JSON Schema's reach; any other code on a schema-valid request is
# a disagreement between the document and the server.
SEMANTIC_CODES = {
    "value_error",
    "invalid_cursor",
    "id_number_mismatch",
    "not_found",
    "idempotency.key_reused",
    "report.future_year",
    "study_log.ends_in_future",  # the end date is bounded by today, which a schema cannot say
    "datetime_range",  # instants within 1900–2199 in UTC: a schema bounds no date-time
    "csv_header_incomplete",
    "insecure_url",  # http webhook URLs: allowed for loopback hosts by a deployment setting
    "address_not_allowed",  # webhook receivers: private addresses depend on the deployment
    # A NUL anywhere in a bulk body's rows, whose schema is left open (each row is checked on
    # its own, and reported): the whole request is refused, as a NUL in a single body is.
    "string_nul",
    # Rules on the stored record, met once the stateful run reaches records that exist: an
    # assessment's override only for an excellent rating with unmet training, a promotion into
    # a leading post that must name the post type, a session's dates in order after a change.
    "assessment.override_not_needed",
    "cadre.post_type_required",
    "training_session.invalid_dates",
    # A filter and its deprecated alias (org_unit_id and within, top and limit) with different
    # values: a schema cannot tie two parameters together.
    "alias_conflict",
    # A body that names a record which does not exist (or lies outside the caller's scope): the
    # schema says the id's form, never that the record is there.
    "cadre.reference_not_found",
    "catalogue.course_reference_not_found",
    "catalogue.teacher_reference_not_found",
    "org_unit.reference_not_found",
    "training_plan.item_reference_not_found",
    "user.reference_not_found",
}


@schemathesis.check
def schema_valid_requests_pass_schema_rules(ctx: Any, response: Any, case: Any) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    body = response.json()
    codes = {e.get("code") for e in body.get("errors", [])} or {body.get("code")}
    unexpected = codes - SEMANTIC_CODES
    if unexpected:
        raise AssertionError(
            f"a schema-valid request failed schema-level checks {sorted(unexpected)}: {body}"
        )


@schemathesis.check
def problem_codes_are_declared(ctx: Any, response: Any, case: Any) -> None:
    """A problem answer's code is one its operation declares at its status (`x-problem-codes`,
    app.openapi): a client's `switch` over the declared codes misses none. The in-process
    answers of the whole suite are held to the same rule (tests/problem_ledger.py)."""
    if not is_problem((response.headers.get("content-type") or [""])[0]):
        return
    if (response.request.method or "").upper() != case.operation.method.upper():
        return  # the 405 of a method the path lacks (`unsupported_method`): no operation's
    operation = case.operation.definition.raw
    code = response.json().get("code")
    if code not in declared_codes(operation.get("responses", {}), response.status_code):
        raise AssertionError(
            f"{operation.get('operationId')} answered {response.status_code} `{code}`, which "
            "its responses do not declare"
        )


# Every check schemathesis has, with the statuses each accepts (the stateful run uses them too).
CHECKS: dict[str, Any] = {
    "positive_data_acceptance": {
        "expected-statuses": [
            "2xx",
            "3xx",
            "401",
            "403",
            "404",
            "409",
            # An If-Match the generator wrote is not the record's ETag (the stateful
            # run reaches records that exist, so preconditions are evaluated).
            "412",
            "413",
            "422",
            "429",
        ]
    },
    # A body over its route's size limit is refused before it is read (413), whatever
    # else is wrong with it.
    "negative_data_rejection": {
        "expected-statuses": [
            "400",
            "401",
            "403",
            "404",
            "405",
            "406",
            "409",
            "413",
            "415",
            "422",
            "428",
            "429",
        ]
    },
}


@pytest.fixture(scope="module")
def admin_headers(settings: Settings) -> dict[str, str]:
    async def make() -> dict[str, str]:
        engine = create_async_engine(settings.async_database_url)
        try:
            admin = await add_user(create_sessionmaker(engine), Role.admin)
        finally:
            await engine.dispose()
        return bearer(settings, admin)

    return asyncio.run(make())


# Seconds a call may take before schemathesis gives up on it. Its default, 10 s, is a timing
# assertion: on a busy CI machine a slow answer failed the run (ReadTimeout) though it was right.
# A hung server still fails, after this long.
REQUEST_TIMEOUT = 300


# Module scope: what schemathesis wrote is removed before the next test module runs.
@pytest.fixture(scope="module")
def api_schema(settings: Settings) -> Iterator[Any]:
    config = SchemathesisConfig.from_dict({"checks": CHECKS, "request-timeout": REQUEST_TIMEOUT})
    with live_server(settings) as base_url:
        published = httpx.get(f"{base_url}/openapi.json").raise_for_status().json()
        schema = schemathesis.openapi.from_dict(with_lenient_rows(published), config=config)
        schema.location = f"{base_url}/openapi.json"  # where the calls go, as from_url sets it
        yield schema

    async def cleanup() -> None:
        engine = create_async_engine(settings.async_database_url)
        try:
            await empty_tables(engine)
        finally:
            await engine.dispose()

    asyncio.run(cleanup())


schema = schemathesis.pytest.from_fixture("api_schema")

# Bulk bodies whose rows are checked one by one: a bad row is reported in the answer (its
# `results` or `problems`), the others go on, and the request is not refused. The contract
# types the rows for clients (a typo'd row does not compile in TypeScript); the server's rule
# for a row is looser (a sync row: any object; an import row: any JSON value), and the runs
# here, which expect a schema-violating request to be refused, are given that rule. The whole
# body is still bound (items an array, at most so many).
LENIENT_ROWS: dict[str, dict[str, Any]] = {
    "CadreSync": {"type": "object"},
    "OrgUnitSync": {"type": "object"},
    "StudyLogImport": {},
    "OnlineRecordImport": {},
}


def with_lenient_rows(published: dict[str, Any]) -> dict[str, Any]:
    """The document with the rows of LENIENT_ROWS given the server's rule, for schemathesis
    only."""
    doc = copy.deepcopy(published)
    for name, rule in LENIENT_ROWS.items():
        items = doc["components"]["schemas"][name]["properties"]["items"]
        assert "$ref" in items["items"], f"{name}'s rows are no longer a typed component"
        items["items"] = dict(rule)
    return doc


_KEY = re.compile(r"[!-~]{1,150}")
_FRESH = itertools.count()


def fresh_idempotency_key(case: Any) -> None:
    """Generated Idempotency-Keys repeat (a few short strings), and a key sent again with another
    body is refused (422 `idempotency.key_reused`): most creates never run. Both runs give
    each call a key of its own, so that the operation itself is tested
    (tests/test_idempotency.py tests reuse)."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and _KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = f"{key}.{next(_FRESH)}"


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_contract(case: Any, admin_headers: dict[str, str]) -> None:
    """As an admin, who may use every operation: the other roles are the authorisation tests'."""
    fresh_idempotency_key(case)
    case.call_and_validate(headers=admin_headers)
