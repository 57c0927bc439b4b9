"""The deadline badge's boundaries: green, amber under 24 h, red under 6 h, overdue from
zero on (never a countdown that reads zero), closed."""

from datetime import UTC, datetime

import pytest

from services.console.domain import Tone, deadline_badge, duration

DUE = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)
HOUR = 3600


@pytest.mark.parametrize(
    ("seconds", "tone", "text"),
    [
        (50 * HOUR, Tone.GREEN, "2 d 2 h left"),
        (24 * HOUR, Tone.GREEN, "1 d 0 h left"),
        (24 * HOUR - 1, Tone.AMBER, "23 h 59 min left"),
        (6 * HOUR, Tone.AMBER, "6 h 0 min left"),
        (6 * HOUR - 1, Tone.RED, "5 h 59 min left"),
        (61, Tone.RED, "1 min left"),
        (1, Tone.RED, "less than a minute left"),
        (0, Tone.OVERDUE, "overdue by less than a minute"),
        (-1, Tone.OVERDUE, "overdue by less than a minute"),
        (-90 * 60, Tone.OVERDUE, "overdue by 1 h 30 min"),
        (-3 * 24 * HOUR, Tone.OVERDUE, "overdue by 3 d 0 h"),
    ],
)
def test_the_badge_at_its_boundaries(seconds: int, tone: Tone, text: str) -> None:
    badge = deadline_badge(seconds, DUE)
    assert (badge.tone, badge.text) == (tone, text)
    assert badge.due == "2026-12-10 10:00 UTC"


@pytest.mark.parametrize("seconds", [1, 0, -1, 59, -59])
def test_no_badge_ever_reads_zero(seconds: int) -> None:
    text = deadline_badge(seconds, DUE).text
    assert not any(zero in text for zero in ("0 min left", "0 h 0 min", "0 s", "00:00"))


def test_a_closed_breach_shows_no_clock() -> None:
    badge = deadline_badge(-5 * HOUR, DUE, closed=True)
    assert (badge.tone, badge.text) == (Tone.CLOSED, "closed")


def test_durations_round_down_to_the_minute() -> None:
    assert duration(59) == "less than a minute"
    assert duration(60) == "1 min"
    assert duration(3599) == "59 min"
    assert duration(-7200) == "2 h 0 min"
