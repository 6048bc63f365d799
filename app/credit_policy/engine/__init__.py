"""The credit-hour and compliance engine (docs/rules.md): pure functions, no I/O, exact arithmetic.

Every figure carries its derivation (the logs, shares and rules behind it) so that an
administrator can see why a cadre is short.

The derivation texts are catalogue messages rendered with `app.i18n._`, in the language of
`current_language` (the request's; zh-CN by default): only their words depend on it, never a
figure or a decision.
"""

from app.credit_policy.engine.assessment import excellent_allowed, to_jsonable
from app.credit_policy.engine.closing import ClosingOutcome, close_outcome
from app.credit_policy.engine.common import Requirement, RequirementStatus, q2
from app.credit_policy.engine.compliance import Compliance, compliance, rank_group
from app.credit_policy.engine.credits import (
    KindCredits,
    LogCredit,
    YearCredits,
    credits_for_year,
    credits_view,
    year_policy,
)
from app.credit_policy.engine.five_year import (
    FiveYear,
    WindowLog,
    five_year_requirement,
    grace_deadline,
    window_start,
)
from app.credit_policy.engine.records import IgnoredLog, LogRecord, share
from app.credit_policy.engine.roll_call import (
    RankedCandidate,
    RollCallCandidate,
    RollCallGroup,
    last_centralised_training,
    quota,
    rank_candidates,
    roll_call_candidate,
    trained_in_year,
)
from app.credit_policy.engine.yearly import (
    Annual,
    Online,
    annual_requirement,
    online_requirement,
)

__all__ = [
    "Annual",
    "ClosingOutcome",
    "Compliance",
    "FiveYear",
    "IgnoredLog",
    "KindCredits",
    "LogCredit",
    "LogRecord",
    "Online",
    "RankedCandidate",
    "Requirement",
    "RequirementStatus",
    "RollCallCandidate",
    "RollCallGroup",
    "WindowLog",
    "YearCredits",
    "annual_requirement",
    "close_outcome",
    "compliance",
    "credits_for_year",
    "credits_view",
    "excellent_allowed",
    "five_year_requirement",
    "grace_deadline",
    "last_centralised_training",
    "online_requirement",
    "q2",
    "quota",
    "rank_candidates",
    "rank_group",
    "roll_call_candidate",
    "share",
    "to_jsonable",
    "trained_in_year",
    "window_start",
    "year_policy",
]
