"""The headers of the contract: the response headers a client reads (`HEADERS`, declared once
in `components/headers` and referenced by rule from each response, `declare_headers`), the
`Accept-Language` parameter every operation takes (`PARAMETERS`) and the `Idempotency-Key`
parameter of the protected POSTs (`IDEMPOTENCY_KEY`)."""

from typing import Any

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key and body answer the first answer again "
    "(with `Idempotent-Replayed: true`); the same key with another body answers 422 "
    "(`idempotency.key_reused`); a retry while the first is still running answers 409. Keys "
    "are remembered for `APP_IDEMPOTENCY_RETENTION_HOURS` (24).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
}


_RETRY_AFTER = {
    "description": "Seconds to wait before retrying (`APP_DATABASE__RETRY_AFTER_SECONDS` for a "
    "database fault; until the rate limit's window has room again for a 429)",
    "schema": {"type": "integer", "minimum": 0},
}


_STRING = {"type": "string"}

# The headers a client reads (the ones app.cors exposes), declared once and referenced.
HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The server's id of this request, on every answer: quote it when "
        "reporting a problem (the audit trail records it as `request_id`)",
        "schema": _STRING,
    },
    "ETag": {
        "description": "The version of the record answered (send it back as `If-Match` to "
        "change the record), or of the file downloaded (as `If-Range` to resume)",
        "schema": _STRING,
    },
    "Location": {
        "description": "The URL of the record created (of the job, for an accepted job)",
        "schema": _STRING,
    },
    "Retry-After": _RETRY_AFTER,
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key` (nothing was done again); absent otherwise",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Content-Disposition": {
        "description": "`attachment` with the file's name (RFC 6266, `filename*` in UTF-8)",
        "schema": _STRING,
    },
    "Content-Language": {
        "description": "The language of the answer's words: on a JSON answer the one "
        "negotiated from `Accept-Language` (`zh-CN` or `en`; the answer also says `Vary: "
        "Accept-Language`), except on a replayed answer (`Idempotent-Replayed: true`), which "
        "says the language of the first answer it repeats; on a file and on the labels the one "
        "of their `lang` parameter (the labels without `lang` say `zh-CN, en`; an export's file "
        "says its job's `lang`). Stored evidence keeps the language it was written in whatever "
        "this header says: an assessment's `training_snapshot` texts are in "
        "`training_snapshot.lang`",
        "schema": _STRING,
    },
}

# The language of the answer's words (app.i18n), declared once and taken by every operation.
PARAMETERS: dict[str, dict[str, Any]] = {
    "Accept-Language": {
        "name": "Accept-Language",
        "in": "header",
        "required": False,
        "description": "The language of the answer's words (problem titles and details, "
        "validation messages): `zh-CN` (the default, also for `zh` and any tag the service "
        "does not serve) or `en`, with q-values as RFC 9110 §12.5.4 says, e.g. `en, "
        "zh-CN;q=0.5`. The answer's `Content-Language` says which was chosen.",
        # Any value is taken (one that names no served language is zh-CN): no bound to refuse
        # on; the server's header limit bounds it, and only its first 32 ranges are read.
        "schema": {"type": "string"},
    },
}

# 201/202 answers that have no URL of their own to point to: a credit policy is read in the
# list of policies only.
NO_LOCATION = frozenset({"createCreditPolicy"})


def _ref(header: str) -> dict[str, str]:
    return {"$ref": f"#/components/headers/{header}"}


def declare_headers(
    op: dict[str, Any], versioned: set[str], *, health: bool, idempotent: bool
) -> None:
    """Declare, on each response, the headers it sends. A route may declare more itself (a
    record carried inside its answer, a file's ETag); these are the rules every route follows:
    X-Request-ID always; Retry-After on 429 and 503 (not the health probes'); ETag on a 2xx
    answering a versioned record (app.http.set_etag); Location on 201 and 202 (but
    `NO_LOCATION`); Idempotent-Replayed on the 2xx of an operation taking Idempotency-Key;
    Content-Disposition on a 2xx that can answer a file (any media type but JSON);
    Content-Language on every answer with a body (JSON, a problem or a file)."""
    for status, response in op["responses"].items():
        headers: dict[str, Any] = response.setdefault("headers", {})
        wanted = ["X-Request-ID"]
        if status in {"429", "503"} and not health:
            wanted.append("Retry-After")
        if status.startswith("2"):
            content = response.get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref.rsplit("/", 1)[-1] in versioned:
                wanted.append("ETag")
            if status in {"201", "202"} and op["operationId"] not in NO_LOCATION:
                wanted.append("Location")
            if idempotent:
                wanted.append("Idempotent-Replayed")
            if any(media != "application/json" for media in content):
                wanted.append("Content-Disposition")
        if response.get("content"):
            wanted.append("Content-Language")
        for name in wanted:
            headers.setdefault(name, _ref(name))
