"""docs/rules.md rule 5, revision 2: the annual requirement compares centralised days and the
counted hours (the credited hours of the policy's `annual_hours_kinds`), on hand-computed cases."""

import dataclasses
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from app.credit_policy.engine import LogRecord, RequirementStatus, compliance, credits_view, q2
from app.credit_policy.policy import (
    CHUZHOU_2007,
    CN_2023,
    CreditMode,
    KindRule,
    Policy,
    validate_policy,
)
from app.credit_policy.schemas import CreditPolicyDefinition, definition_of, to_policy
from app.enums import Rank, StudyLogKind, StudyLogStatus

K = StudyLogKind
D = Decimal
MET, NOT_MET = RequirementStatus.met, RequirementStatus.not_met
NOT_APPLICABLE = RequirementStatus.not_applicable


def log(
    log_id: str,
    kind: StudyLogKind,
    start: str,
    end: str | None = None,
    hours: str = "0",
    days: str = "0",
) -> LogRecord:
    return LogRecord(
        log_id,
        kind,
        date.fromisoformat(start),
        date.fromisoformat(end or start),
        D(hours),
        D(days),
        StudyLogStatus.approved,
    )


def centralised(log_id: str, start: str, end: str, hours: str, days: str) -> LogRecord:
    return log(log_id, K.centralised_training, start, end, hours, days)


# A local 学时学分制 that counts every kind toward the annual hours.
EVERY_KIND = dataclasses.replace(CN_2023, code="local", annual_hours_kinds=frozenset(StudyLogKind))
# Centralised hours credited × 1.5, and online courses counted too: centralised, counted and
# credited hours all differ.
WEIGHTED = dataclasses.replace(
    CN_2023,
    code="weighted",
    kind_rules={
        **CN_2023.kind_rules,
        K.centralised_training: KindRule(
            kind=K.centralised_training, mode=CreditMode.per_hour, factor=D("1.5")
        ),
    },
    annual_hours_kinds=frozenset({K.centralised_training, K.online_course}),
)

# worked example 3: 2024-12-23 … 2025-01-05, 14 calendar days (9 in 2024), 10 days, 70 hours.
NEW_YEAR_CLASS = centralised("ny", "2024-12-23", "2025-01-05", "70", "10")
JUNE_CLASS = centralised("jun", "2024-06-03", "2024-06-06", "45", "4")
# worked example 2: 99 credited hours in 2024, none of them centralised.
EXAMPLE_2 = [
    log("ss-1", K.self_study, "2024-03-01", hours="12"),
    log("ss-2", K.self_study, "2024-05-01", hours="12"),
    log("cg-1", K.central_group_study, "2024-02-20", hours="4"),
    log("te-1", K.teaching, "2024-06-06", hours="8"),
    log("te-2", K.teaching, "2024-07-06", hours="8"),
    log("on-1", K.online_course, "2024-08-01", "2024-08-31", hours="52"),
]

# (logs, as_of, policy): centralised days, centralised h, counted h, credited h, status,
# shortfall days, shortfall h — every figure to two places.
Case = tuple[list[LogRecord], str, Policy, tuple[str, str, str, str], RequirementStatus, str, str]
CASES: dict[str, Case] = {
    "12-days-exactly": (
        [centralised("c", "2024-05-06", "2024-05-17", "60", "12")],
        "2024-12-31",
        CN_2023,
        ("12.00", "60.00", "60.00", "60.00"),
        MET,
        "0.00",
        "30.00",
    ),
    "11.99-days-and-89.99-hours": (
        [centralised("c", "2024-05-06", "2024-05-17", "89.99", "11.99")],
        "2024-12-31",
        CN_2023,
        ("11.99", "89.99", "89.99", "89.99"),
        NOT_MET,
        "0.01",
        "0.01",
    ),
    "90-counted-hours-exactly": (
        [centralised("c", "2024-09-02", "2024-09-11", "90", "10")],
        "2024-12-31",
        CN_2023,
        ("10.00", "90.00", "90.00", "90.00"),
        MET,
        "2.00",
        "0.00",
    ),
    "89.99-counted-hours": (
        [centralised("c", "2024-09-02", "2024-09-11", "89.99", "10")],
        "2024-12-31",
        CN_2023,
        ("10.00", "89.99", "89.99", "89.99"),
        NOT_MET,
        "2.00",
        "0.01",
    ),
    "online-and-lecture-90-do-not-count": (
        [
            log("o", K.online_course, "2024-02-01", hours="50"),
            log("l", K.lecture, "2024-03-01", hours="40"),
        ],
        "2024-12-31",
        CN_2023,
        ("0.00", "0.00", "0.00", "90.00"),
        NOT_MET,
        "12.00",
        "90.00",
    ),
    # 40 centralised + self-study 100 capped at 20 + online 60 = 120 credited, 40 counted.
    "centralised-among-other-kinds": (
        [
            centralised("c", "2024-04-01", "2024-04-05", "40", "5"),
            log("s", K.self_study, "2024-02-01", hours="100"),
            log("o", K.online_course, "2024-03-01", "2024-03-31", hours="60"),
        ],
        "2024-12-31",
        CN_2023,
        ("5.00", "40.00", "40.00", "120.00"),
        NOT_MET,
        "7.00",
        "50.00",
    ),
    # 2024: 9/14 of the class, 45 h and 6.43 days, plus June's 45 h and 4 days: 90 h exactly.
    "new-year-class-2024-part-makes-90": (
        [NEW_YEAR_CLASS, JUNE_CLASS],
        "2024-12-31",
        CN_2023,
        ("10.43", "90.00", "90.00", "90.00"),
        MET,
        "1.57",
        "0.00",
    ),
    # 2025: 5/14 of the class, 25 h and 3.57 days.
    "new-year-class-2025-part": (
        [NEW_YEAR_CLASS, JUNE_CLASS],
        "2025-12-31",
        CN_2023,
        ("3.57", "25.00", "25.00", "25.00"),
        NOT_MET,
        "8.43",
        "65.00",
    ),
    # The compliance view on 2025-01-02 counts 2 of the 14 days: 10 h and 1.43 days.
    "new-year-class-up-to-jan-2": (
        [NEW_YEAR_CLASS],
        "2025-01-02",
        CN_2023,
        ("1.43", "10.00", "10.00", "10.00"),
        NOT_MET,
        "10.57",
        "80.00",
    ),
    "example-2-under-cn-2023": (
        EXAMPLE_2,
        "2024-12-31",
        CN_2023,
        ("0.00", "0.00", "0.00", "99.00"),
        NOT_MET,
        "12.00",
        "90.00",
    ),
    "example-2-under-a-policy-counting-every-kind": (
        EXAMPLE_2,
        "2024-12-31",
        EVERY_KIND,
        ("0.00", "0.00", "99.00", "99.00"),
        MET,
        "12.00",
        "0.00",
    ),
    # 40 h × 1.5 = 60 counted, + 30 online = 90 counted; + 10 self-study = 100 credited.
    "weighted-centralised-and-online-counted": (
        [
            centralised("c", "2024-04-01", "2024-04-05", "40", "5"),
            log("o", K.online_course, "2024-03-01", "2024-03-31", hours="30"),
            log("s", K.self_study, "2024-02-01", hours="10"),
        ],
        "2024-12-31",
        WEIGHTED,
        ("5.00", "40.00", "90.00", "100.00"),
        MET,
        "7.00",
        "0.00",
    ),
}


@pytest.mark.parametrize(
    ("logs", "as_of", "policy", "figures", "status", "short_days", "short_hours"),
    CASES.values(),
    ids=CASES.keys(),
)
def test_annual_requirement(
    logs: list[LogRecord],
    as_of: str,
    policy: Policy,
    figures: tuple[str, str, str, str],
    status: RequirementStatus,
    short_days: str,
    short_hours: str,
) -> None:
    annual = compliance(
        logs, date.fromisoformat(as_of), Rank.township_section, None, [policy]
    ).annual
    shown = (
        annual.centralised_days,
        annual.centralised_hours,
        annual.counted_hours,
        annual.credited_hours,
    )
    assert tuple(str(q2(value)) for value in shown) == figures
    assert annual.status is status
    assert annual.shortfall_days is not None
    assert annual.shortfall_hours is not None
    assert (str(q2(annual.shortfall_days)), str(q2(annual.shortfall_hours))) == (
        short_days,
        short_hours,
    )
    assert (annual.required_days, annual.required_hours) == (D(12), D(90))
    assert annual.counted_kinds == tuple(sorted(policy.annual_hours_kinds))


def test_exactly_90_hours_from_a_class_across_new_year_are_exact() -> None:
    """45 + 45 is 90 exactly (70 × 9/14 = 45): the rule compares unrounded values."""
    annual = compliance(
        [NEW_YEAR_CLASS, JUNE_CLASS], date(2024, 12, 31), Rank.section_member, None, [CN_2023]
    ).annual
    assert annual.counted_hours == D(90)
    assert annual.status is MET


def test_the_explanation_says_what_was_counted() -> None:
    state = compliance(EXAMPLE_2, date(2024, 12, 31), Rank.section_member, None, [CN_2023])
    text = state.annual.explanation
    assert "0 counted h (credited hours of centralised_training, after caps)" in text
    assert "99 credited h of all kinds shown, not compared" in text
    assert "needs 12 centralised days or 90 counted h" in text
    assert "Not met: short 12 days and 90 h." in text
    assert "docs/rules.md rule 5" in text
    local = compliance(EXAMPLE_2, date(2024, 12, 31), Rank.section_member, None, [EVERY_KIND])
    assert "99 counted h (credited hours of every kind, after caps)" in local.annual.explanation


def test_the_credits_view_shows_what_the_annual_rule_counts() -> None:
    credits = credits_view([NEW_YEAR_CLASS, *EXAMPLE_2], 2024, [CN_2023])
    assert (q2(credits.centralised_hours), q2(credits.counted_hours)) == (D(45), D(45))
    assert credits.total_hours == D(144)
    counted = {block.kind for block in credits.by_kind if block.annual_counted}
    assert counted == {K.centralised_training}
    assert any("centralised_training (docs/rules.md rule 5)" in note for note in credits.notes)


def test_annual_figures_shown_where_the_rule_does_not_apply() -> None:
    leading = compliance(EXAMPLE_2, date(2024, 12, 31), Rank.county_division, None, [CN_2023])
    assert (leading.annual.status, leading.annual.counted_hours) == (NOT_APPLICABLE, D(0))
    # chuzhou-2007 has no annual requirement; its 学时学分制 figure counts every kind.
    seed = compliance(EXAMPLE_2, date(2024, 12, 31), Rank.section_member, None, [CHUZHOU_2007])
    assert (seed.annual.status, seed.annual.counted_hours) == (NOT_APPLICABLE, D(99))


# --- the policy field ---------------------------------------------------------------------------


def test_built_in_policies_list_their_annual_kinds() -> None:
    assert CN_2023.annual_hours_kinds == frozenset({K.centralised_training})
    assert CHUZHOU_2007.annual_hours_kinds == frozenset(StudyLogKind)


def test_an_omitted_field_defaults_to_the_centralised_kinds() -> None:
    stored = definition_of(CN_2023)
    del stored["annual_hours_kinds"]
    stored["centralised_kinds"] = ["centralised_training", "seminar"]
    policy = to_policy(
        code="old", name="x", effective_from=date(2020, 1, 1), effective_to=None, definition=stored
    )
    assert policy.annual_hours_kinds == frozenset({K.centralised_training, K.seminar})
    parsed = CreditPolicyDefinition.model_validate(stored)
    assert parsed.annual_hours_kinds == ["centralised_training", "seminar"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"annual_hours_kinds": frozenset({K.thesis})},
            "annual_hours_kinds lists thesis, which has no rule",
            id="kind-without-rule",
        ),
        pytest.param(
            {"annual_hours_kinds": frozenset()},
            "annual_hours_kinds is empty",
            id="empty-with-required-hours",
        ),
    ],
)
def test_validate_policy_refuses_bad_annual_kinds(changes: dict[str, object], message: str) -> None:
    rules = {kind: rule for kind, rule in CN_2023.kind_rules.items() if kind != K.thesis}
    policy = dataclasses.replace(CN_2023, kind_rules=rules, **changes)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        validate_policy(policy)
    definition = definition_of(CN_2023)
    definition["kind_rules"] = [r for r in definition["kind_rules"] if r["kind"] != "thesis"]
    definition["annual_hours_kinds"] = sorted(k.value for k in policy.annual_hours_kinds)
    with pytest.raises(ValidationError, match=message):
        CreditPolicyDefinition.model_validate(definition)


def test_no_annual_kinds_without_an_hours_alternative_is_valid() -> None:
    validate_policy(
        dataclasses.replace(CN_2023, annual_required_hours=None, annual_hours_kinds=frozenset())
    )
