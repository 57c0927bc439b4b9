"""Decision rules, with no I/O."""

from datetime import UTC, datetime, timedelta

from services.consent.domain import (
    AccessGrant,
    Action,
    ConsentChange,
    DecisionRequest,
    Organisation,
    PolicyView,
    Purpose,
    Restriction,
    decide,
    fold,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHARING = Purpose("member_organisation_sharing", "Sharing", "consent", False, ("email",), "v1")
BORDER = Purpose("cross_border_transfer", "Transfer", "consent", False, ("email",), "v1")
PH_ORG = Organisation("ph-dti", "DTI", "PH", "governmental", False)
TH_ORG = Organisation("th-bot", "Board of Trade", "TH", "non_governmental", False)
AGENCY = Organisation("th-agency", "Web agency", "TH", "private", True)


def view(*grants: AccessGrant) -> PolicyView:
    by_org: dict[str, list[AccessGrant]] = {}
    for g in grants:
        by_org.setdefault(g.organisation, []).append(g)
    return PolicyView(
        purposes={p.code: p for p in (SHARING, BORDER)},
        organisations={o.slug: o for o in (PH_ORG, TH_ORG, AGENCY)},
        grants=by_org,
    )


def year_grant(org: str) -> AccessGrant:
    return AccessGrant(f"g-{org}", org, frozenset({"email"}), T0, T0 + timedelta(days=365))


def change(
    consent: str, version: int, purpose: str, action: Action, at: datetime, **kw: object
) -> ConsentChange:
    return ConsentChange(
        change_id=f"{consent}-{version}",
        consent_id=consent,
        version=version,
        user_id="u1",
        purpose=purpose,
        action=action,
        at=at,
        notice_version="v1",
        **kw,  # type: ignore[arg-type]
    )


def ask(org: str, at: datetime, country: str = "PH") -> DecisionRequest:
    return DecisionRequest("u1", org, SHARING.code, frozenset({"email"}), at, country)


def test_withdrawal_denies_from_then_on_but_not_before() -> None:
    history = [
        change("c1", 1, SHARING.code, Action.GRANTED, T0 + timedelta(days=1)),
        change("c1", 2, SHARING.code, Action.WITHDRAWN, T0 + timedelta(days=3)),
    ]
    grants = view(year_grant("ph-dti"))
    before = fold(history, T0 + timedelta(days=2)).values()
    after = fold(history).values()
    assert decide(ask("ph-dti", T0 + timedelta(days=2)), grants, before, Restriction()).allow
    denied = decide(ask("ph-dti", T0 + timedelta(days=4)), grants, after, Restriction())
    assert not denied.allow and "no consent" in denied.reason


def test_consent_scoped_to_one_organisation_does_not_cover_another() -> None:
    history = [change("c1", 1, SHARING.code, Action.GRANTED, T0, organisation="ph-dti")]
    consents = fold(history).values()
    grants = view(year_grant("ph-dti"), year_grant("th-bot"))
    at = T0 + timedelta(days=1)
    assert decide(ask("ph-dti", at), grants, consents, Restriction()).allow
    assert not decide(ask("th-bot", at, "TH"), grants, consents, Restriction()).allow


def test_transfer_abroad_needs_its_own_consent() -> None:
    sharing = [change("c1", 1, SHARING.code, Action.GRANTED, T0)]
    grants = view(year_grant("th-bot"))
    at = T0 + timedelta(days=1)
    denied = decide(ask("th-bot", at, "PH"), grants, fold(sharing).values(), Restriction())
    assert not denied.allow and "cross-border" in denied.reason
    both = [*sharing, change("c2", 1, BORDER.code, Action.GRANTED, T0)]
    assert decide(ask("th-bot", at, "PH"), grants, fold(both).values(), Restriction()).allow


def test_access_outside_the_grant_window_is_denied() -> None:
    consents = fold([change("c1", 1, SHARING.code, Action.GRANTED, T0)]).values()
    grants = view(year_grant("ph-dti"))
    late = decide(ask("ph-dti", T0 + timedelta(days=400)), grants, consents, Restriction())
    assert not late.allow and "no access grant" in late.reason


def test_allow_names_the_consent_version_and_grant() -> None:
    consents = fold([change("c1", 1, SHARING.code, Action.GRANTED, T0)]).values()
    decision = decide(
        ask("ph-dti", T0 + timedelta(days=1)), view(year_grant("ph-dti")), consents, Restriction()
    )
    assert (decision.consent_id, decision.consent_version, decision.grant_id) == (
        "c1",
        1,
        "g-ph-dti",
    )


def test_restriction_denies_even_with_consent() -> None:
    consents = fold([change("c1", 1, SHARING.code, Action.GRANTED, T0)]).values()
    decision = decide(
        ask("ph-dti", T0 + timedelta(days=1)),
        view(year_grant("ph-dti")),
        consents,
        Restriction(objected=True),
    )
    assert not decision.allow and "objected" in decision.reason


def test_standing_access_party_is_allowed_without_a_grant() -> None:
    decision = decide(ask("th-agency", T0, "TH"), view(), [], Restriction())
    assert decision.allow and decision.legal_basis == "contract"


def test_unknown_organisation_is_denied() -> None:
    assert not decide(ask("nobody", T0), view(), [], Restriction()).allow
