"""OpenAPI links: how the record one operation answers is used by the next (create → read →
update → delete, a session → its enrollments → closing it). A client can follow them, and so
does the stateful contract test, which reaches records that exist this way.

Each link names its target by operationId and takes its values with runtime expressions from
the source's response: the record's id from the body, and its version for `If-Match` from the
ETag header, as a client would send it. Only `parameters` carry expressions: in OpenAPI 3.1 a
link's `requestBody` is the whole body (a literal, or one expression), so a link to a create
operation names its target and says in its description which field takes the source's id; the
stateful test wires those fields itself (tests/test_schemathesis_stateful.py).
"""

from typing import Any

_ETAG = "$response.header.ETag"


def _id(name: str, source: str = "id") -> dict[str, str]:
    return {f"path.{name}": f"$response.body#/{source}"}


def _link(
    operation: str,
    description: str,
    *,
    parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    link: dict[str, Any] = {"operationId": operation, "description": description}
    if parameters:
        link["parameters"] = parameters
    return link


def _read(operation: str, what: str, param: str, source: str = "id") -> dict[str, Any]:
    return _link(operation, f"Read {what}", parameters=_id(param, source))


def _write(operation: str, what: str, param: str, source: str = "id") -> dict[str, Any]:
    # The ETag the source answered is the version the write expects (RFC 9110 §13.1.1).
    return _link(operation, what, parameters={**_id(param, source), "header.if-match": _ETAG})


def _org_unit_links() -> dict[str, dict[str, Any]]:
    return {
        "GetOrgUnit": _read("getOrgUnit", "the unit", "org_unit_id"),
        "UpdateOrgUnit": _write("updateOrgUnit", "Change the unit", "org_unit_id"),
        "ExportOrgUnitArchive": _read("exportOrgUnitArchive", "its archive", "org_unit_id"),
        "CreateChildOrgUnit": _link("createOrgUnit", "A unit under it: `parent_id` is its id"),
        "CreateCadreInOrgUnit": _link(
            "createCadre", "A cadre of the unit: `org_unit_id` is its id"
        ),
        "CreateTrainingSessionOfOrgUnit": _link(
            "createTrainingSession",
            "A session the unit organises: `organiser_org_unit_id` is its id",
        ),
        "GetComplianceReportOfOrgUnit": _link(
            "getComplianceReport",
            "The unit's compliance report",
            parameters={"query.org_unit_id": "$response.body#/id"},
        ),
        "GetRollCallReportOfOrgUnit": _link(
            "getRollCallReport",
            "The unit's roll-call report",
            parameters={"query.org_unit_id": "$response.body#/id"},
        ),
        "ListCadresOfOrgUnit": _link(
            "listCadres",
            "The unit's cadres",
            parameters={"query.org_unit_id": "$response.body#/id"},
        ),
        "ListTrainingSessionsOfOrgUnit": _link(
            "listTrainingSessions",
            "The sessions the unit organises",
            parameters={"query.organiser_org_unit_id": "$response.body#/id"},
        ),
    }


def _cadre_links() -> dict[str, dict[str, Any]]:
    return {
        "GetCadre": _read("getCadre", "the cadre", "cadre_id"),
        "GetCadreByHrId": _read("getCadreByHrId", "the cadre by HR id", "hr_id", "hr_id"),
        "UpdateCadre": _write("updateCadre", "Change the cadre", "cadre_id"),
        "UpsertCadreByHrId": _write(
            "upsertCadreByHrId", "Replace the cadre by HR id", "hr_id", "hr_id"
        ),
        "DeactivateCadre": _write("deactivateCadre", "Deactivate the cadre", "cadre_id"),
        "GetCadreCredits": _read("getCadreCredits", "its credits", "cadre_id"),
        "GetCadreCompliance": _read("getCadreCompliance", "its compliance", "cadre_id"),
        "GetCadreArchive": _read("getCadreArchive", "its archive", "cadre_id"),
        "GetOrgUnitOfCadre": _read("getOrgUnit", "the cadre's unit", "org_unit_id", "org_unit_id"),
        "ListTrainingSessionsOfCadreUnit": _link(
            "listTrainingSessions",
            "The sessions the cadre's unit organises",
            parameters={"query.organiser_org_unit_id": "$response.body#/org_unit_id"},
        ),
        "CreateStudyLogOfCadre": _link(
            "createStudyLog", "A study log of the cadre: `cadre_id` is its id"
        ),
        "CreateAssessmentOfCadre": _link(
            "createAssessment", "An assessment of the cadre: `cadre_id` is its id"
        ),
    }


def _training_session_links() -> dict[str, dict[str, Any]]:
    return {
        "GetTrainingSession": _read("getTrainingSession", "the session", "training_session_id"),
        "UpdateTrainingSession": _write(
            "updateTrainingSession", "Change the session", "training_session_id"
        ),
        "EnrollCadre": _link(
            "enrollCadre", "Enroll a cadre", parameters=_id("training_session_id")
        ),
        "ListSessionEnrollments": _read(
            "listSessionEnrollments", "its enrollments", "training_session_id"
        ),
        "CloseTrainingSession": _write(
            "closeTrainingSession", "Close the session", "training_session_id"
        ),
    }


def _enrollment_links() -> dict[str, dict[str, Any]]:
    return {
        "GetEnrollment": _read("getEnrollment", "the enrollment", "enrollment_id"),
        "UpdateEnrollment": _write("updateEnrollment", "Record attendance", "enrollment_id"),
        "ListSessionEnrollments": _read(
            "listSessionEnrollments",
            "the session's enrollments",
            "training_session_id",
            "training_session_id",
        ),
        "CloseTrainingSession": _link(
            "closeTrainingSession",
            "Close its session",
            parameters=_id("training_session_id", "training_session_id"),
        ),
    }


def _study_log_links() -> dict[str, dict[str, Any]]:
    return {
        "GetStudyLog": _read("getStudyLog", "the log", "study_log_id"),
        "GetCadreOfStudyLog": _read("getCadre", "the log's cadre", "cadre_id", "cadre_id"),
        "ApproveStudyLog": _write("approveStudyLog", "Approve the log", "study_log_id"),
        "RejectStudyLog": _write("rejectStudyLog", "Reject the log", "study_log_id"),
        "VoidStudyLog": _write("voidStudyLog", "Void the log", "study_log_id"),
    }


def _assessment_links() -> dict[str, dict[str, Any]]:
    return {
        "GetAssessment": _read("getAssessment", "the assessment", "assessment_id"),
        "UpdateAssessment": _write("updateAssessment", "Change the assessment", "assessment_id"),
    }


def _user_links() -> dict[str, dict[str, Any]]:
    return {
        "GetUser": _read("getUser", "the user", "user_id"),
        "UpdateUser": _write("updateUser", "Change the user", "user_id"),
    }


def _webhook_links() -> dict[str, dict[str, Any]]:
    return {
        "GetWebhook": _read("getWebhook", "the subscription", "webhook_id"),
        "UpdateWebhook": _write("updateWebhook", "Change the subscription", "webhook_id"),
        "RotateWebhookSecret": _write(
            "rotateWebhookSecret", "Rotate its signing secret", "webhook_id"
        ),
        "ListWebhookDeliveries": _read("listWebhookDeliveries", "its deliveries", "webhook_id"),
        "DeleteWebhook": _write("deleteWebhook", "Delete the subscription", "webhook_id"),
    }


def _export_links() -> dict[str, dict[str, Any]]:
    return {
        "GetExport": _read("getExport", "the job", "export_id"),
        "GetExportFile": _read("getExportFile", "its file", "export_id"),
    }


def _first(links: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The same links from a page of a list: they take the first item's values."""

    def item(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("$response.body#/", "$response.body#/items/0/")
        if isinstance(value, dict):
            return {k: item(v) for k, v in value.items()}
        return value

    # A page has no ETag of its own: a write from it names no version.
    return {
        name: {
            k: item(v) if k != "parameters" else {p: item(e) for p, e in v.items() if e != _ETAG}
            for k, v in link.items()
        }
        for name, link in links.items()
    }


# (operationId, status) → the links of that response. A record's creation and its reads link to
# everything that takes its id; a write links on to the next write with the new ETag.
LINKS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("createOrgUnit", "201"): _org_unit_links(),
    ("getOrgUnit", "200"): _org_unit_links(),
    ("updateOrgUnit", "200"): _org_unit_links(),
    ("createCadre", "201"): _cadre_links(),
    ("getCadre", "200"): _cadre_links(),
    ("updateCadre", "200"): _cadre_links(),
    ("upsertCadreByHrId", "200"): _cadre_links(),
    ("upsertCadreByHrId", "201"): _cadre_links(),
    ("createTrainingSession", "201"): _training_session_links(),
    ("getTrainingSession", "200"): _training_session_links(),
    ("updateTrainingSession", "200"): _training_session_links(),
    ("enrollCadre", "201"): _enrollment_links(),
    ("getEnrollment", "200"): _enrollment_links(),
    ("updateEnrollment", "200"): _enrollment_links(),
    ("createStudyLog", "201"): _study_log_links(),
    ("putStudyLog", "201"): _study_log_links(),
    ("getStudyLog", "200"): _study_log_links(),
    ("createAssessment", "201"): _assessment_links(),
    ("getAssessment", "200"): _assessment_links(),
    ("createUser", "201"): _user_links(),
    ("getUser", "200"): _user_links(),
    ("createWebhook", "201"): _webhook_links(),
    ("getWebhook", "200"): _webhook_links(),
    ("updateWebhook", "200"): _webhook_links(),
    ("createExport", "202"): _export_links(),
    ("getExport", "200"): _export_links(),
    ("listOrgUnits", "200"): _first(_org_unit_links()),
    ("listCadres", "200"): _first(_cadre_links()),
    ("listTrainingSessions", "200"): _first(_training_session_links()),
    ("listSessionEnrollments", "200"): _first(_enrollment_links()),
    ("listStudyLogs", "200"): _first(_study_log_links()),
    ("listAssessments", "200"): _first(_assessment_links()),
    ("listUsers", "200"): _first(_user_links()),
    ("listWebhooks", "200"): _first(_webhook_links()),
    ("listExports", "200"): _first(_export_links()),
}


def add_links(doc: dict[str, Any]) -> None:
    """Put LINKS on their responses. A link whose source or target is not in the document is a
    mistake in the table: KeyError, not a document that silently lacks it."""
    operations = {
        op["operationId"]: op
        for item in doc.get("paths", {}).values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }
    for (source, status), links in LINKS.items():
        for link in links.values():
            if link["operationId"] not in operations:
                raise KeyError(f"link target {link['operationId']} is not an operation")
        operations[source]["responses"][status].setdefault("links", {}).update(links)
