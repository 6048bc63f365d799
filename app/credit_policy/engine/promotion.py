"""The promotion check (docs/rules.md rule 15, 培训与使用相结合): does a cadre meet the training
requirement of a target post on a day, and if not, may the move still be made with the grace
year of N2?

The move itself (whether it is a promotion into a leading post) is classified by the cadre's
own rule (`app.cadre.rules.promotion_move`, the one function every write path uses to set
`promoted_on`); this module only applies rule 4 to the target, as the compliance view would
compute it the day the move is recorded."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from app.credit_policy.engine.common import RequirementStatus, fmt
from app.credit_policy.engine.five_year import FiveYear, evaluate_five_year
from app.credit_policy.engine.records import DAYS, HOURS, LogRecord
from app.credit_policy.policy import Policy
from app.enum_labels import term
from app.enums import PROMOTION_MOVES, PostType, PromotionMove, PromotionOutcome, Rank
from app.i18n import N_, _, join

_OUTCOMES = {
    RequirementStatus.not_applicable: PromotionOutcome.not_applicable,
    RequirementStatus.met: PromotionOutcome.meets,
    RequirementStatus.in_grace: PromotionOutcome.needs_catch_up,
    RequirementStatus.not_met: PromotionOutcome.not_met,
}

_MOVE_TEXT = {
    PromotionMove.higher_rank: N_(
        "a higher rank into or within the leading ranks, as a leading post"
    ),
    PromotionMove.leading_post_same_rank: N_(
        "a stated grade (non_leading) becomes a leading post at the same rank"
    ),
    PromotionMove.post_type_classified: N_(
        "the cadre's non_leading post type was never stated: naming a leading post at the same "
        "rank classifies a post held all along"
    ),
    PromotionMove.same_post: N_("the same rank and post type as now"),
    PromotionMove.lower_rank: N_("a lower rank"),
    PromotionMove.grade_only: N_("a grade (non_leading), not a leading post"),
    PromotionMove.below_leading_ranks: N_("a leading post below the leading ranks"),
}


@dataclass(frozen=True, slots=True)
class PromotionCheck:
    """docs/rules.md rule 15 for one cadre, one target post and one day."""

    on: date
    rank: Rank
    post_type: PostType
    target_rank: Rank
    target_post_type: PostType
    move: PromotionMove
    promotion_into_leading_post: bool
    promoted_on: date | None
    """The cadre's `promoted_on` once the move is recorded on `on` (rule 4)."""
    outcome: PromotionOutcome
    grace_deadline: date | None
    """For `needs_catch_up`: the last day of the grace the move leaves the cadre with."""
    five_year: FiveYear
    steps: tuple[str, ...]
    explanation: str


def promotion_check(
    logs: Iterable[LogRecord],
    on: date,
    *,
    rank: Rank,
    post_type: PostType,
    target_rank: Rank,
    target_post_type: PostType,
    move: PromotionMove,
    promoted_on: date | None,
    policy: Policy,
) -> PromotionCheck:
    """docs/rules.md rule 15: rule 4 evaluated on `on` for the target rank, with the
    `promoted_on` the cadre would have once the move is recorded that day (`on` when the move
    is a promotion into a leading post, else the stored date, which a move keeps)."""
    promotes = move in PROMOTION_MOVES
    after = on if promotes else promoted_on
    five = evaluate_five_year(logs, on, target_rank, after, policy)
    outcome = _OUTCOMES[five.status]
    deadline = five.grace_deadline if outcome is PromotionOutcome.needs_catch_up else None
    steps = (
        _move_step(rank, post_type, target_rank, target_post_type, move, promotes),
        _requirement_step(policy, on, target_rank),
        _figures_step(five),
        _outcome_step(outcome, policy, move, promotes, after, deadline),
    )
    return PromotionCheck(
        on=on,
        rank=rank,
        post_type=post_type,
        target_rank=target_rank,
        target_post_type=target_post_type,
        move=move,
        promotion_into_leading_post=promotes,
        promoted_on=after,
        outcome=outcome,
        grace_deadline=deadline,
        five_year=five,
        steps=steps,
        explanation=" ".join(steps),
    )


def _move_step(
    rank: Rank,
    post_type: PostType,
    target_rank: Rank,
    target_post_type: PostType,
    move: PromotionMove,
    promotes: bool,
) -> str:
    verdict = (
        _("a promotion into a leading post (提拔担任领导职务, N2)")
        if promotes
        else _("not a promotion into a leading post (N2)")
    )
    return _(
        "1. Move {rank} ({post_type}) → {target_rank} ({target_post_type}): {move}; "
        "{verdict} (docs/rules.md rule 4)."
    ).format(
        rank=term(rank),
        post_type=term(post_type),
        target_rank=term(target_rank),
        target_post_type=term(target_post_type),
        move=_(_MOVE_TEXT[move]),
        verdict=verdict,
    )


def _needs(policy: Policy) -> str:
    wanted = [
        _(unit).format(figure=fmt(need))
        for need, unit in (
            (policy.five_year_required_days, DAYS),
            (policy.five_year_required_hours, HOURS),
        )
        if need is not None
    ]
    return join(N_(" or "), wanted)


def _requirement_step(policy: Policy, on: date, target_rank: Rank) -> str:
    if target_rank in policy.five_year_applies_to:
        return _(
            "2. Policy {policy} in force on {on}: the five-year requirement (docs/rules.md "
            "rule 4, N1) applies to {rank}: {needs} of centralised training in {years} years."
        ).format(
            policy=policy.code,
            on=on.isoformat(),
            rank=term(target_rank),
            needs=_needs(policy),
            years=policy.five_year_years,
        )
    return _(
        "2. Policy {policy} in force on {on}: the five-year requirement (docs/rules.md rule 4) "
        "does not apply to {rank}; the annual requirement (rule 5, N3) is a yearly duty, not a "
        "condition of promotion in art. 14."
    ).format(policy=policy.code, on=on.isoformat(), rank=term(target_rank))


def _figures_step(five: FiveYear) -> str:
    return _(
        "3. Window {start}…{end}: centralised training {days} days and {hours} h (approved logs "
        "only, pro rata at the window's edge, rules 1–2); short {short}."
    ).format(
        start=five.window_start.isoformat(),
        end=five.window_end.isoformat(),
        days=fmt(five.centralised_days),
        hours=fmt(five.centralised_hours),
        short=_shortfall_text(five),
    )


def _shortfall_text(five: FiveYear) -> str:
    gaps = [
        _(unit).format(figure=fmt(gap))
        for gap, unit in (
            (five.shortfall_days, DAYS),
            (five.shortfall_hours, HOURS),
        )
        if gap is not None
    ]
    return join(N_(" and "), gaps)


def _outcome_step(
    outcome: PromotionOutcome,
    policy: Policy,
    move: PromotionMove,
    promotes: bool,
    promoted_on: date | None,
    deadline: date | None,
) -> str:
    if outcome is PromotionOutcome.not_applicable:
        return _("4. Not applicable: no training requirement is a condition of this move.")
    if outcome is PromotionOutcome.meets:
        return _("4. Meets: the figures reach the requirement on the day of the move.")
    if outcome is PromotionOutcome.needs_catch_up:
        if promotes:
            return _(
                "4. Needs catch-up: not met, but a promotion into a leading post may be made; "
                "the training is to be completed within {years} year(s) of it, by {deadline} "
                "(N2)."
            ).format(years=policy.grace_years, deadline=deadline)
        return _(
            "4. Needs catch-up: not met, but the grace of the promotion on {promoted_on} still "
            "runs, and this move keeps it: complete the training by {deadline} (N2)."
        ).format(promoted_on=promoted_on, deadline=deadline)
    if move is PromotionMove.grade_only:
        return _(
            "4. Not met: a leading rank without a leading post has no grace year (N2: only a "
            "promotion into a leading post opens one)."
        )
    return _(
        "4. Not met: the move is not a promotion into a leading post and opens no grace year (N2)."
    )
