"""Obligations derived from the regimes: who must be told, from when, by when."""

from datetime import UTC, datetime, timedelta

import pytest

from services.breach import obligations, regimes
from services.breach.obligations import (
    Assessment,
    BreachFacts,
    Derivation,
    Recipient,
    Requirement,
)
from services.breach.regimes import Anchor, Trigger

REGIMES = regimes.load()
OCCURRED = datetime(2026, 11, 18, 8, 0, tzinfo=UTC)
DETECTED = datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
AWARE = datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
ASSESSED = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
REGULATOR, PEOPLE = Recipient.REGULATOR, Recipient.PEOPLE
REQUIRED, NOT_REQUIRED, UNDETERMINED = (
    Requirement.REQUIRED,
    Requirement.NOT_REQUIRED,
    Requirement.UNDETERMINED,
)
ISSUE = {"SG": 600, "MY": 40, "PH": 30, "ID": 20, "TH": 10, "VN": 5, "LA": 3}
"""The issue's breach: Singapore 600, and some people in six more ASEAN states."""
ESTABLISHMENT = ("TH",)
"""The controller is established in Thailand, as the three policies' operators are."""


def derive(
    people: dict[str, int],
    *,
    establishment: tuple[str, ...] = ESTABLISHMENT,
    sensitive: bool = False,
    assessment: Assessment | None = None,
    occurred_at: datetime | None = OCCURRED,
) -> Derivation:
    facts = BreachFacts(
        detected_at=DETECTED,
        aware_at=AWARE,
        occurred_at=occurred_at,
        people_by_country=people,
        sensitive=sensitive,
        assessment=assessment,
    )
    return obligations.derive(REGIMES, establishment=establishment, facts=facts)


def table(
    derivation: Derivation,
) -> dict[tuple[str, str], tuple[str, datetime | None, datetime | None]]:
    return {
        (o.regime_id, o.recipient.value): (o.requirement.value, o.anchor_at, o.deadline_at)
        for o in derivation.obligations
    }


def test_the_issues_breach_has_exactly_these_obligations_before_the_assessment() -> None:
    derivation = derive(ISSUE)
    assert table(derivation) == {
        # Singapore: 600 people make it notifiable; its clock waits for the assessment.
        ("sg", "regulator"): ("required", None, None),
        ("sg", "people"): ("undetermined", None, None),
        # Thailand (the establishment: it covers everyone): presumed until assessed no risk.
        ("th", "regulator"): ("required", AWARE, AWARE + 72 * H),
        ("th", "people"): ("undetermined", AWARE, None),
        # The Philippines: no sensitive data, nothing to notify.
        ("ph", "regulator"): ("not_required", AWARE, AWARE + 72 * H),
        ("ph", "people"): ("not_required", AWARE, AWARE + 72 * H),
        # Indonesia: every breach, 3 x 24 h from an anchor not verified: the earliest time.
        ("id", "regulator"): ("required", OCCURRED, OCCURRED + 72 * H),
        ("id", "people"): ("required", OCCURRED, OCCURRED + 72 * H),
        # Malaysia: 40 people, under 1,001: it depends on significant harm; from occurrence.
        ("my", "regulator"): ("undetermined", OCCURRED, OCCURRED + 72 * H),
        ("my", "people"): ("undetermined", OCCURRED, None),
        # Vietnam: every breach, 72 h from detection; the people's timing is not verified.
        ("vn", "regulator"): ("required", DETECTED, DETECTED + 72 * H),
        ("vn", "people"): ("required", DETECTED, None),
    }
    # Laos asks nothing (and neither the EU nor anyone else is concerned).
    assert [(w.regime_id, w.people) for w in derivation.without_duty] == [("la", 3)]


def test_the_issues_breach_after_the_assessment_found_significant_harm_and_sensitive_data() -> None:
    assessment = Assessment(
        ASSESSED, frozenset({Trigger.RISK, Trigger.SIGNIFICANT_HARM, Trigger.SERIOUS_HARM})
    )
    derivation = derive(ISSUE, sensitive=True, assessment=assessment)
    assert table(derivation) == {
        ("sg", "regulator"): ("required", ASSESSED, ASSESSED + 72 * H),
        ("sg", "people"): ("required", ASSESSED, None),
        ("th", "regulator"): ("required", AWARE, AWARE + 72 * H),
        ("th", "people"): ("not_required", AWARE, None),  # no high risk found
        ("ph", "regulator"): ("required", AWARE, AWARE + 72 * H),
        ("ph", "people"): ("required", AWARE, AWARE + 72 * H),
        ("id", "regulator"): ("required", OCCURRED, OCCURRED + 72 * H),
        ("id", "people"): ("required", OCCURRED, OCCURRED + 72 * H),
        ("my", "regulator"): ("required", OCCURRED, OCCURRED + 72 * H),
        ("my", "people"): ("required", OCCURRED, None),
        ("vn", "regulator"): ("required", DETECTED, DETECTED + 72 * H),
        ("vn", "people"): ("required", DETECTED, None),
    }


def test_each_obligation_carries_its_regimes_limits_form_and_content() -> None:
    assessment = Assessment(ASSESSED, frozenset({Trigger.SERIOUS_HARM}))
    derivation = derive(ISSUE, sensitive=True, assessment=assessment)
    th = derivation.get("th", REGULATOR)
    ph = derivation.get("ph", REGULATOR)
    my = derivation.get("my", REGULATOR)
    vn = derivation.get("vn", REGULATOR)
    sg_people = derivation.get("sg", PEOPLE)
    assert th and ph and my and vn and sg_people
    assert th.extended_until == AWARE + 15 * D and th.late_requires_reasons
    assert th.assessment_on_file and th.warnings_at == (
        AWARE + 24 * H,
        AWARE + 48 * H,
        AWARE + 66 * H,
    )
    assert ph.phases_until == AWARE + 5 * D and ph.no_delay  # sensitive data: no delay allowed
    assert "assistance_to_subjects" in ph.content and ph.form and "DBNMS" in ph.form
    assert my.phases_until == OCCURRED + 30 * D and my.unverified == ("to_regulator.content",)
    assert vn.form == "Mẫu số 08 (Decree 356/2025)"
    assert sg_people.after_regulator and sg_people.deadline_rule == "same_time_or_after_regulator"
    assert all("not legal advice" in o.disclaimer for o in derivation.obligations)


def test_singapore_waits_for_the_assessment_with_its_30_days_counted_from_detection() -> None:
    sg = derive(ISSUE).get("sg", REGULATOR)
    assert sg and sg.anchor is Anchor.ASSESSMENT_CONCLUDED
    assert sg.anchor_at is None and sg.anchor_note == "waiting for the assessment"
    assert sg.assessment_due_at == DETECTED + 30 * D and sg.warnings_at == ()


def test_singapore_becomes_notifiable_with_the_500th_person() -> None:
    before = derive({"SG": 499}, establishment=())
    after = derive({"SG": 500}, establishment=())
    sg_before, sg_after = before.get("sg", REGULATOR), after.get("sg", REGULATOR)
    assert sg_before and sg_before.requirement is UNDETERMINED  # significant harm not assessed
    assert sg_after and sg_after.requirement is REQUIRED
    assert sg_after.reason == "500 people covered, at least 500"
    assert [o.key for o in obligations.became_required(before, after)] == [("sg", REGULATOR)]
    assert obligations.became_required(after, after) == []
    # The 500 count only for the regulator: the people still wait for significant harm.
    people = after.get("sg", PEOPLE)
    assert people and people.requirement is UNDETERMINED


def test_singapore_under_500_without_significant_harm_is_not_notifiable() -> None:
    no_harm = Assessment(ASSESSED, frozenset())
    sg = derive({"SG": 499}, establishment=(), assessment=no_harm).get("sg", REGULATOR)
    assert sg and sg.requirement is NOT_REQUIRED
    sg = derive({"SG": 500}, establishment=(), assessment=no_harm).get("sg", REGULATOR)
    assert sg and sg.requirement is REQUIRED and sg.deadline_at == ASSESSED + 72 * H


def test_malaysia_counts_more_than_1000_people_for_the_commissioner_only() -> None:
    at_1000 = derive({"MY": 1000}, establishment=()).get("my", REGULATOR)
    over = derive({"MY": 1001}, establishment=())
    assert at_1000 and at_1000.requirement is UNDETERMINED
    regulator, people = over.get("my", REGULATOR), over.get("my", PEOPLE)
    assert regulator and regulator.requirement is REQUIRED
    assert people and people.requirement is UNDETERMINED


def test_laos_cambodia_and_myanmar_get_no_obligation() -> None:
    derivation = derive({"LA": 10, "KH": 20, "MM": 30}, establishment=())
    assert derivation.obligations == ()
    assert [(w.regime_id, w.people) for w in derivation.without_duty] == [
        ("la", 10),
        ("kh", 20),
        ("mm", 30),
    ]
    assert "Bank of Lao PDR" in derivation.without_duty[0].reason


def test_the_establishments_regime_covers_everyone_affected() -> None:
    derivation = derive({"KH": 7, "MM": 3}, establishment=("DE",))
    eu = derivation.get("eu", REGULATOR)
    assert eu and eu.people == 10 and eu.requirement is REQUIRED  # presumed: risk
    assert derivation.get("eu", PEOPLE) is not None
    assert derive({"KH": 7}, establishment=()).get("eu", REGULATOR) is None


def test_the_philippines_allows_no_delay_from_100_people() -> None:
    ph = derive({"PH": 100}, establishment=()).get("ph", REGULATOR)
    assert ph and ph.no_delay and ph.requirement is NOT_REQUIRED
    ph = derive({"PH": 99}, establishment=()).get("ph", REGULATOR)
    assert ph and not ph.no_delay


def test_an_unrecorded_occurrence_counts_from_detection_and_says_so() -> None:
    my = derive({"MY": 5}, establishment=(), occurred_at=None).get("my", REGULATOR)
    assert my and my.anchor_at == DETECTED and my.deadline_at == DETECTED + 72 * H
    assert my.anchor_note and "not recorded" in my.anchor_note


def test_an_unverified_anchor_counts_from_the_earliest_time_and_says_so() -> None:
    derivation = derive({"ID": 5, "BN": 5}, establishment=())
    for regime_id in ("id", "bn"):
        regulator = derivation.get(regime_id, REGULATOR)
        assert regulator and regulator.anchor_at == OCCURRED
        assert regulator.anchor_note and "not verified" in regulator.anchor_note
        assert "anchor" in regulator.unverified
    brunei_people = derivation.get("bn", PEOPLE)
    assert brunei_people and brunei_people.requirement is UNDETERMINED
    assert brunei_people.reason == "whether this duty applies is not verified"


def deadline(
    derivation: Derivation, country: str, establishment: tuple[str, ...] = ESTABLISHMENT
) -> obligations.PersonDeadline:
    return obligations.person_deadline(
        derivation, REGIMES, country=country, establishment=establishment
    )


def test_a_person_covered_by_two_regimes_gets_the_earlier_deadline() -> None:
    derivation = derive(ISSUE, establishment=("ID",), sensitive=True)
    # A resident of the Philippines: the Philippines (72 h from awareness) and Indonesia,
    # the establishment (3 x 24 h from the earliest time recorded): Indonesia's is earlier.
    person = deadline(derivation, "PH", ("ID",))
    assert person.regimes == ("ph", "id")
    assert (person.deadline_at, person.regime_id) == (OCCURRED + 72 * H, "id")
    # Without the establishment in Indonesia, the Philippines' own.
    derivation = derive(ISSUE, establishment=(), sensitive=True)
    person = deadline(derivation, "PH", ())
    assert (person.deadline_at, person.regime_id, person.regimes) == (AWARE + 72 * H, "ph", ("ph",))


def test_people_deadlines_in_the_issues_breach() -> None:
    derivation = derive(ISSUE)
    indonesia = deadline(derivation, "ID")
    assert (indonesia.deadline_at, indonesia.regime_id) == (OCCURRED + 72 * H, "id")
    singapore = deadline(derivation, "SG")
    assert singapore.deadline_at is None and singapore.after_regulator == ("sg",)
    assert singapore.regimes == ("sg", "th")
    laos = deadline(derivation, "LA")  # only the establishment's regime, with no fixed hours
    assert (laos.deadline_at, laos.regimes) == (None, ("th",))
    philippines = deadline(derivation, "PH")  # not required without sensitive data
    assert philippines.regimes == ("th",)


@pytest.mark.parametrize("hours_before", [(48, 24, 6), (6, 24, 48, 24)])
def test_warnings_fall_before_each_deadline_and_after_its_anchor(
    hours_before: tuple[int, ...],
) -> None:
    facts = BreachFacts(detected_at=DETECTED, aware_at=AWARE, people_by_country={"PH": 1})
    derivation = obligations.derive(
        REGIMES, establishment=(), facts=facts, warning_hours_before=(*hours_before, 100)
    )
    ph = derivation.get("ph", PEOPLE)
    assert ph and ph.warnings_at == (AWARE + 24 * H, AWARE + 48 * H, AWARE + 66 * H)
