"""The compliance view of one cadre on one day (docs/rules.md rules 4–6)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from app.credit_policy.engine.credits import tally_year
from app.credit_policy.engine.five_year import FiveYear, evaluate_five_year
from app.credit_policy.engine.records import LogRecord
from app.credit_policy.engine.yearly import Annual, Online, annual_from, online_from
from app.credit_policy.policy import Policy, policy_in_force
from app.enums import Rank, RankGroup


@dataclass(frozen=True, slots=True)
class Compliance:
    as_of: date
    rank: Rank
    promoted_on: date | None
    rank_group: RankGroup
    """`leading` or `other` (the policy's `leading_ranks`)."""
    five_year: FiveYear
    annual: Annual
    online: Online


def rank_group(rank: Rank, policy: Policy) -> RankGroup:
    return RankGroup.leading if rank in policy.leading_ranks else RankGroup.other


def compliance(
    logs: Iterable[LogRecord],
    as_of: date,
    rank: Rank,
    promoted_on: date | None,
    policies: Sequence[Policy],
) -> Compliance:
    """The three requirement blocks of a cadre on `as_of`.

    "A period is always evaluated under the policy in force on its dates" (docs/rules.md) is read
    as: a period is evaluated under the policy in force on its last evaluated day, one policy per
    period so that its caps and thresholds stay consistent. The five-year window ends on
    `as_of`; the calendar year is counted from Jan 1 up to `as_of` (rule 5: a class dated later
    does not count yet) and so also ends on `as_of`. All three blocks are thus evaluated under the
    policy in force on `as_of`. The whole-year views (`credits_view`, `excellent_allowed`) use the
    policy in force on Dec 31 by the same reading.
    """
    logs = tuple(logs)
    policy = policy_in_force(policies, as_of)
    tally = tally_year(logs, as_of.year, policy, up_to=as_of)
    return Compliance(
        as_of=as_of,
        rank=rank,
        promoted_on=promoted_on,
        rank_group=rank_group(rank, policy),
        five_year=evaluate_five_year(logs, as_of, rank, promoted_on, policy),
        annual=annual_from(tally, rank, policy),
        online=online_from(tally, rank, policy),
    )
