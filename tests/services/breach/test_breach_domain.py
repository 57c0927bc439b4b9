"""The breach service's pure rules: the clock, which outcome wins, closing, decisions."""

from datetime import UTC, datetime, timedelta

import pytest

from services.breach import domain
from services.breach.domain import Counts, Decision, NoticeState, Outcome
from services.breach.exceptions import (
    CannotClose,
    InvalidDecision,
    InvalidDeclaration,
    InvalidNoticeId,
)

AWARE = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_the_deadline_is_72_hours_after_awareness() -> None:
    assert domain.deadline_of(AWARE) == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert domain.time_left(AWARE, AWARE + 70 * H) == 2 * H
    assert domain.time_left(AWARE, AWARE + 73 * H) == -H


def test_warning_points_are_due_from_the_moment_they_pass() -> None:
    points = [24, 48, 66]
    assert domain.points_due(AWARE, AWARE + 24 * H - timedelta(seconds=1), points) == []
    assert domain.points_due(AWARE, AWARE + 24 * H, points) == [24]
    assert domain.points_due(AWARE, AWARE + 100 * H, points) == [24, 48, 66]


def test_notice_ids_name_the_breach_and_the_person() -> None:
    notice = domain.notice_id("4f1c", "u:1")
    assert notice == "breach:4f1c:u:1"
    assert domain.parse_notice_id(notice) == ("4f1c", "u:1")
    for bad in ("erasure:4f1c:u-1", "breach:4f1c", "breach::u-1"):
        with pytest.raises(InvalidNoticeId):
            domain.parse_notice_id(bad)


@pytest.mark.parametrize(
    ("new", "last_at", "last", "wins"),
    [
        (Outcome(failed=False, at=AWARE), None, NoticeState.REQUESTED, True),
        (Outcome(failed=True, at=AWARE + H), AWARE, NoticeState.DELIVERED, True),  # bounce
        (Outcome(failed=False, at=AWARE), AWARE + H, NoticeState.FAILED, False),  # late accept
        (Outcome(failed=False, at=AWARE + H), AWARE, NoticeState.FAILED, True),  # retried
        (Outcome(failed=True, at=AWARE), AWARE, NoticeState.DELIVERED, True),  # tie: failure
        (Outcome(failed=False, at=AWARE), AWARE, NoticeState.FAILED, False),
        (Outcome(failed=True, at=AWARE), AWARE, NoticeState.FAILED, False),
    ],
)
def test_the_later_outcome_by_its_own_time_wins(
    new: Outcome, last_at: datetime | None, last: NoticeState, wins: bool
) -> None:
    assert domain.supersedes(new, last_at, last) is wins


def test_an_uncertain_acceptance_counts_as_notified() -> None:
    assert Outcome(failed=False, at=AWARE, uncertain=True).state is NoticeState.UNCERTAIN
    counts = Counts(requested=1, delivered=2, uncertain=1, failed=3)
    assert (counts.affected, counts.notified, counts.pending) == (7, 3, 4)
    assert counts.announcement_required
    announced = Counts(requested=1, delivered=2, uncertain=1, failed=3, announced=True)
    assert (announced.covered_by_announcement, announced.pending) == (3, 1)
    assert domain.shown_state(NoticeState.FAILED, True) is NoticeState.COVERED_BY_ANNOUNCEMENT
    assert domain.shown_state(NoticeState.REQUESTED, True) is NoticeState.REQUESTED


def test_closing_names_everything_missing() -> None:
    with pytest.raises(CannotClose) as refused:
        domain.check_can_close(Counts(requested=2, failed=1), decided=False, resolving=1)
    assert refused.value.extra["missing"] == [
        "1 scopes are still being resolved to people",
        "2 people have no outcome yet",
        "1 people cannot be reached and no public announcement is recorded",
        "the regulator decision (report or not, with the reason) is not recorded",
    ]
    domain.check_can_close(Counts(delivered=1, failed=1, announced=True), decided=True)
    domain.check_can_close(Counts(), decided=True)


def decision(**overrides: object) -> None:
    values: dict[str, object] = {
        "decision": Decision.REPORT,
        "reason": None,
        "reported_at": AWARE + 10 * H,
        "delay_reasons": None,
        "aware_at": AWARE,
        "now": AWARE + 100 * H,
    }
    values.update(overrides)
    domain.check_decision(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"decision": Decision.NOT_REPORT}, "reason"),
        ({"decision": Decision.NOT_REPORT, "reason": "r"}, "reported_at"),
        ({"reported_at": None}, "reported_at"),
        ({"reported_at": AWARE + 101 * H}, "reported_at"),
        ({"reported_at": AWARE - H}, "reported_at"),
        ({"reported_at": AWARE + 73 * H}, "delay_reasons"),
    ],
)
def test_a_decision_holds_what_article_33_asks(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidDecision) as refused:
        decision(**overrides)
    assert refused.value.field == field


def test_valid_decisions_pass() -> None:
    decision()
    decision(reported_at=AWARE + 73 * H, delay_reasons="the logs came late")
    decision(decision=Decision.NOT_REPORT, reason="encrypted", reported_at=None)


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ({"aware_at": AWARE + H}, "aware_at"),
        ({"started_at": AWARE - H, "ended_at": AWARE - 2 * H}, "ended_at"),
        ({"started_at": AWARE - H, "detected_at": AWARE - 2 * H}, "detected_at"),
        ({"detected_at": AWARE + H, "aware_at": AWARE}, "detected_at"),
    ],
)
def test_declared_times_are_in_order_and_not_in_the_future(
    times: dict[str, datetime], field: str
) -> None:
    values: dict[str, datetime | None] = {
        "started_at": None,
        "ended_at": None,
        "detected_at": AWARE - H,
        "aware_at": AWARE,
    }
    values.update(times)
    with pytest.raises(InvalidDeclaration) as refused:
        domain.check_declaration(now=AWARE, **values)  # type: ignore[arg-type]
    assert refused.value.field == field
