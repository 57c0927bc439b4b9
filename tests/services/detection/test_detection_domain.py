"""The rules on their own: baselines per hour of the week, each rule firing above its
threshold and quiet below it, alert ids stable across judgements."""

from datetime import UTC, datetime, timedelta

from services.detection import domain
from services.detection.config import DetectionSettings, RuleSettings
from services.detection.domain import Counted, History, HourState
from services.detection.watch import Changes, Watch, knobs
from shared.events import DataAccessed, DataAccessedPayload, Decision, LegalBasis, Rule

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)  # a Monday, 09:00
KNOBS = knobs(RuleSettings())


def history(per_hour: int, *, days: int, subjects: int | None = None) -> History:
    h = History()
    for i in range(1, days * 24 + 1):
        h.add(T0 - timedelta(hours=i), Counted(per_hour, 0, subjects or per_hour))
    return h


def hour(reads: int, subjects: int, refusals: int = 0) -> HourState:
    state = HourState(T0, reads=reads, refusals=refusals)
    state.subjects = {f"u{i}" for i in range(subjects)}
    state.categories = {"email_address"}
    state.first_at, state.last_at = T0, T0 + timedelta(minutes=2)
    if refusals:
        state.refused_first_at, state.refused_last_at = T0, T0 + timedelta(minutes=2)
    return state


def rules(fired: list[tuple[domain.Firing, int]]) -> set[Rule]:
    return {f.rule for f, _ in fired}


def test_the_usual_count_is_the_same_hour_of_the_week_over_the_weeks_watched() -> None:
    h = History()
    h.add(T0 - domain.WEEK * 3, Counted(0))  # watched for three weeks
    h.add(T0 - domain.WEEK, Counted(90))
    h.add(T0 - domain.WEEK * 2, Counted(30))
    h.add(T0 - timedelta(hours=1), Counted(5000))  # another hour: not this one's baseline
    assert h.usual(T0, 4, "reads") == (90 + 30 + 0) / 3


def test_without_a_week_of_history_the_same_hour_of_the_day_is_the_baseline() -> None:
    h = History()
    h.add(T0 - timedelta(days=2), Counted(10))
    h.add(T0 - timedelta(days=1), Counted(20))
    assert h.usual(T0, 4, "reads") == 15
    assert History().usual(T0, 4, "reads") is None


def test_a_bulk_read_fires_both_volume_rules_and_a_usual_hour_neither() -> None:
    past = history(2, days=14)
    bulk = domain.judge_hour("ph-x", hour(5000, 5000), past, KNOBS, weeks=4)
    usual = domain.judge_hour("ph-x", hour(3, 3), past, KNOBS, weeks=4)
    assert rules(bulk) == {Rule.VOLUME_RATE, Rule.VOLUME_BREADTH}
    assert usual == []


def test_breadth_compares_with_the_most_people_ever_read_in_an_hour() -> None:
    past = history(10, days=14, subjects=800)  # a big reader: 800 people some hours
    assert rules(domain.judge_hour("ph-x", hour(0, 1500), past, KNOBS, weeks=4)) == set()
    fired = domain.judge_hour("ph-x", hour(0, 1700), past, KNOBS, weeks=4)
    assert rules(fired) == {Rule.VOLUME_BREADTH}
    assert fired[0][0].threshold == 1600 and fired[0][0].baseline == 800


def test_a_rule_fires_again_only_when_its_count_doubles() -> None:
    assert domain.level(499, 500) is None
    assert [domain.level(n, 500) for n in (500, 999, 1000, 4000)] == [0, 0, 1, 3]


def test_refusals_fire_as_a_burst_and_stay_quiet_below_the_minimum() -> None:
    past = history(2, days=14)
    burst = domain.judge_hour("ph-x", hour(0, 0, refusals=60), past, KNOBS, weeks=4)
    few = domain.judge_hour("ph-x", hour(0, 0, refusals=49), past, KNOBS, weeks=4)
    assert rules(burst) == {Rule.REFUSAL_BURST} and few == []


def test_violations_carry_their_audit_seqs_capped() -> None:
    state = HourState(T0, violations=1500, violation_seqs=list(range(1500)))
    state.violations_first_at = state.violations_last_at = T0
    ((firing, _),) = domain.judge_hour("ph-x", state, History(), KNOBS, weeks=4)
    assert firing.rule is Rule.CONSENT_VIOLATIONS
    assert len(firing.audit_seqs) == 1000 and firing.audit_seqs_total == 1500


def test_a_disabled_rule_never_fires() -> None:
    quiet = knobs(RuleSettings(disabled=["volume_breadth", "volume_rate"]))
    assert domain.judge_hour("ph-x", hour(5000, 5000), history(2, days=14), quiet, weeks=4) == []


def test_the_same_firing_has_the_same_alert_id() -> None:
    a = domain.judge_hour("ph-x", hour(5000, 5000), history(2, days=14), KNOBS, weeks=4)
    b = domain.judge_hour("ph-x", hour(5000, 5000), history(2, days=14), KNOBS, weeks=4)
    assert [f.alert_id() for f, _ in a] == [f.alert_id() for f, _ in b]


def test_an_organisation_override_merges_over_the_defaults() -> None:
    settings = DetectionSettings(
        rules=RuleSettings(rate_factor=8), organisations={"ph-x": {"breadth_min_subjects": 50}}
    )
    mine, theirs = settings.rules_for("ph-x"), settings.rules_for("ph-y")
    assert (mine.rate_factor, mine.breadth_min_subjects) == (8, 50)
    assert (theirs.rate_factor, theirs.breadth_min_subjects) == (8, 500)


def read(
    org: str,
    at: datetime,
    *,
    producer: str = "registry",
    channel: str = "registry_api",
    purpose: str = "member_organisation_sharing",
) -> DataAccessed:
    return DataAccessed.create(
        producer=producer,
        subject_id="u-1",
        payload=DataAccessedPayload(
            organisation_id=org,
            actor="a",
            subject_id="u-1",
            fields=["email_address"],
            purpose=purpose,
            legal_basis=LegalBasis.CONSENT,
            channel=channel,
            accessed_at=at,
            decision=Decision.ALLOW,
        ),
    )


def test_something_new_is_news_only_after_the_learning_period() -> None:
    watch = Watch(DetectionSettings())
    changes = Changes()
    watch.apply(read("ph-x", T0 - timedelta(days=10)), changes)
    watch.apply(read("ph-x", T0 - timedelta(days=9), channel="export"), changes)  # learning
    assert changes.firings == []
    watch.apply(read("ph-x", T0, channel="bulk_api", producer="laptop-7"), changes)
    watch.apply(read("ph-x", T0, channel="registry_api"), changes)  # seen before
    assert sorted(f.rule for f, _ in changes.firings) == [Rule.NEW_CHANNEL, Rule.NEW_PRODUCER]


def test_a_slow_exfiltration_fires_the_sustained_rate_and_usual_hours_do_not() -> None:
    def hours_at(per_hour: int) -> History:
        h = history(20, days=14)
        for k in range(1, 6):  # the five hours before this one
            h.add(T0 - timedelta(hours=k), Counted(per_hour, 0, per_hour))
        return h

    slow = domain.judge_hour("ph-x", hour(80, 80), hours_at(80), KNOBS, weeks=4)
    usual = domain.judge_hour("ph-x", hour(30, 30), hours_at(30), KNOBS, weeks=4)
    ((firing, _),) = slow
    assert firing.rule is Rule.VOLUME_RATE and firing.key.endswith("|sustained|0")
    assert (firing.reads, firing.baseline, firing.threshold) == (480, 120, 360)
    assert firing.window_start == T0 - timedelta(hours=5)
    assert usual == []


def test_reads_a_grant_covers_are_quiet_and_the_others_fire() -> None:
    from services.detection.repository import Grant

    watch = Watch(DetectionSettings())
    watch.grants["g-1"] = Grant(
        "g-1", "ph-x", frozenset({"email_address"}), T0 - timedelta(days=30), T0, None
    )

    def judged(at: datetime, fields: tuple[str, ...]) -> list[Rule]:
        changes = Changes()
        event = read("ph-x", at)
        payload = event.payload.model_copy(update={"grant_id": "g-1", "fields": list(fields)})
        watch.apply(event.model_copy(update={"payload": payload}), changes)
        return sorted(f.rule for f, _ in changes.firings)

    assert judged(T0 - timedelta(hours=2), ("email_address",)) == []
    assert judged(T0 - timedelta(hours=1), ("email_address", "phone_number")) == [
        Rule.CATEGORY_OUTSIDE_GRANT
    ]
    assert judged(T0 + timedelta(minutes=1), ("email_address",)) == [Rule.READ_AFTER_GRANT_END]


def test_a_purpose_used_before_is_quiet_and_a_new_one_fires() -> None:
    watch = Watch(DetectionSettings())
    changes = Changes()
    watch.apply(read("ph-x", T0 - timedelta(days=10)), changes)
    watch.apply(read("ph-x", T0), changes)
    assert changes.firings == []
    watch.apply(read("ph-x", T0, purpose="marketing"), changes)
    assert [f.rule for f, _ in changes.firings] == [Rule.NEW_PURPOSE]
