"""Who may call what: every route of every service, called by every role, against one table.

The table below is the whole policy. For each route it names the roles allowed (or says
the route is public), and which of them see only their own data, with the status
someone else's data gets (403, or 404 where the service does not even say it exists).
Every route is called with no token, with each role's token, and with another subject's
and another organisation's token; each answer must be what the table says:

- no token: 401 (the public routes answer anyone);
- a role not allowed: 403 ``Forbidden``;
- an allowed role: neither 401 nor 403 ``Forbidden``, and no 5xx but a 503 (any other
  answer, 200, 404, 409, or a 403 ``Denied`` from the consent check, is the route's own
  business; a 503 says a dependency was slow, e.g. ``/readyz`` on a loaded machine);
- an allowed "own only" role acting on someone else's data: the status the table names,
  and its owner never gets that status for the same call.

The routes are read from the apps themselves: a route without a row fails the test, as
does a row for a route that is gone. Adding the breach and notifier routes means adding
rows (and, where the route needs a body, a valid call in ``calls.py``).
"""

from dataclasses import dataclass, field

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from shared.auth import Role
from tests.security import stack as stacks
from tests.security.calls import Target, call_for
from tests.security.stack import (
    PH_ORG,
    SERVICES,
    SHARING,
    TH_ORG,
    Seed,
    Stack,
    org_token,
    subject_token,
    token,
)

pytestmark = pytest.mark.integration

PLATFORM, MEMBER_ORG, AUDITOR, SECURITY, SUBJECT, ADMIN = (
    Role.PLATFORM,
    Role.MEMBER_ORG,
    Role.AUDITOR,
    Role.SECURITY,
    Role.SUBJECT,
    Role.ADMIN,
)
EVERY_ROLE = frozenset(Role)


@dataclass(frozen=True)
class Access:
    """Who may call a route: ``roles`` (None: anyone, without a token), and the roles
    that see only their own data, with the status someone else's data gets."""

    roles: frozenset[Role] | None
    own: dict[Role, int] = field(default_factory=dict)


PUBLIC = Access(roles=None)
ANY_ROLE = Access(roles=EVERY_ROLE)


def only(*roles: Role, own: dict[Role, int] | None = None) -> Access:
    """The route admits ``roles``; those in ``own`` only on their own data."""
    return Access(roles=frozenset(roles), own=own or {})


SELF_OR_ADMIN = only(SUBJECT, ADMIN, own={SUBJECT: 403})
OPERATIONS: dict[tuple[str, str], Access] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/asyncapi.json"): PUBLIC,
    ("GET", "/asyncapi"): PUBLIC,
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
}
"""Every service's operational routes and documents: public. (The static files the pages
load, under /static, are a mount rather than routes: public too.)"""

TABLE: dict[str, dict[tuple[str, str], Access]] = {
    "registry": {
        ("POST", "/users"): only(PLATFORM, ADMIN),
        ("GET", "/users/{user_id}"): SELF_OR_ADMIN,
        ("GET", "/users/{user_id}/export"): SELF_OR_ADMIN,
        ("PATCH", "/users/{user_id}"): SELF_OR_ADMIN,
        ("DELETE", "/users/{user_id}"): SELF_OR_ADMIN,
        ("PUT", "/users/{user_id}/restriction"): SELF_OR_ADMIN,
        ("PUT", "/users/{user_id}/profile"): SELF_OR_ADMIN,
        ("GET", "/users/{user_id}/profile"): SELF_OR_ADMIN,
        ("POST", "/users/{user_id}/profile/publish"): SELF_OR_ADMIN,
        ("POST", "/users/{user_id}/profile/unpublish"): SELF_OR_ADMIN,
        # What an organisation gets is the consent service's decision, not a role's.
        ("GET", "/users/{user_id}/data"): only(MEMBER_ORG),
        ("POST", "/users/{user_id}/legal-disclosures"): only(ADMIN),
        ("POST", "/reports/users"): only(MEMBER_ORG),
        ("GET", "/profiles"): PUBLIC,
        ("GET", "/profiles/{profile_id}"): PUBLIC,
        **OPERATIONS,
    },
    "consent": {
        ("GET", "/purposes"): ANY_ROLE,
        ("GET", "/organisations"): ANY_ROLE,
        ("POST", "/organisations"): only(ADMIN),
        ("POST", "/organisations/{slug}/retire"): only(ADMIN),
        ("PATCH", "/organisations/{slug}"): only(ADMIN),
        ("POST", "/grants/{grant_id}/revoke"): only(ADMIN),
        ("POST", "/grants"): only(ADMIN),
        ("GET", "/grants"): only(ADMIN, AUDITOR, MEMBER_ORG, own={MEMBER_ORG: 403}),
        ("POST", "/consents"): only(SUBJECT, PLATFORM, ADMIN, own={SUBJECT: 403}),
        ("POST", "/consents/{consent_id}/withdraw"): only(
            SUBJECT, PLATFORM, ADMIN, own={SUBJECT: 404}
        ),
        ("GET", "/users/{user_id}/consents"): only(
            SUBJECT, PLATFORM, ADMIN, AUDITOR, own={SUBJECT: 403}
        ),
        ("GET", "/users/{user_id}/consents/history"): only(
            SUBJECT, PLATFORM, ADMIN, AUDITOR, own={SUBJECT: 403}
        ),
        ("GET", "/receipts/{receipt_id}"): only(
            SUBJECT, PLATFORM, ADMIN, AUDITOR, own={SUBJECT: 404}
        ),
        ("POST", "/decisions"): only(PLATFORM, ADMIN),
        **OPERATIONS,
    },
    "audit": {
        # The security team sees who was affected (the subjects route), never disclosure rows.
        ("GET", "/disclosures"): only(AUDITOR, ADMIN, MEMBER_ORG, own={MEMBER_ORG: 403}),
        ("GET", "/disclosures/export"): only(AUDITOR, ADMIN, MEMBER_ORG, own={MEMBER_ORG: 403}),
        ("GET", "/violations"): only(AUDITOR, ADMIN),
        ("GET", "/subjects/{user_id}/report"): only(SUBJECT, AUDITOR, ADMIN, own={SUBJECT: 403}),
        ("GET", "/organisations/{organisation}/subjects"): only(SECURITY, AUDITOR, ADMIN),
        ("GET", "/tree-heads/latest"): ANY_ROLE,
        ("GET", "/tree-heads"): ANY_ROLE,
        ("GET", "/public-key"): ANY_ROLE,
        ("GET", "/proofs/inclusion"): only(
            AUDITOR, ADMIN, SECURITY, MEMBER_ORG, own={MEMBER_ORG: 404}
        ),
        ("GET", "/proofs/consistency"): ANY_ROLE,
        ("GET", "/entries/{seq}"): only(AUDITOR, ADMIN, MEMBER_ORG, own={MEMBER_ORG: 404}),
        # The log as standard tools read it (docs/audit.md): the checkpoint like the tree
        # heads; tiles, bundles and the bulk read are the auditors' (AUDIT_TILES_PUBLIC
        # opens the checkpoint and tiles to anyone; the stack runs with the default).
        ("GET", "/checkpoint"): ANY_ROLE,
        ("GET", "/tile/{tile_path:path}"): only(AUDITOR, ADMIN),
        ("GET", "/entries"): only(AUDITOR, ADMIN),
        # Recipient notices: an organisation reads and answers its own (another's is a 404,
        # tests/services/audit/test_recipients_answers.py); auditors and security read all.
        ("GET", "/recipient-requests"): only(MEMBER_ORG, AUDITOR, ADMIN, SECURITY),
        ("GET", "/recipient-requests/{request_id}"): only(MEMBER_ORG, AUDITOR, ADMIN, SECURITY),
        ("POST", "/recipient-requests/{request_id}/confirm"): only(MEMBER_ORG),
        ("POST", "/recipient-requests/{request_id}/keep"): only(MEMBER_ORG),
        **OPERATIONS,
    },
    # The security team acts on breaches; auditors read them.
    "breach": {
        **{
            ("POST", path): only(SECURITY)
            for path in (
                "/breaches",
                "/breaches/{breach_id}/scopes",
                "/breaches/{breach_id}/announcement",
                "/breaches/{breach_id}/regulator-decision",
                "/breaches/{breach_id}/close",
                "/breaches/{breach_id}/resend",
                "/breaches/{breach_id}/assessments",
                "/breaches/{breach_id}/obligations/{regime}/regulator",
                "/incidents/{incident_id}/declare",
                "/incidents/{incident_id}/dismiss",
            )
        },
        **{
            ("GET", path): only(SECURITY, AUDITOR)
            for path in (
                "/breaches",
                "/breaches/{breach_id}",
                "/breaches/{breach_id}/scopes",
                "/breaches/{breach_id}/people",
                "/breaches/{breach_id}/people.csv",
                "/breaches/{breach_id}/unnotified",
                "/breaches/{breach_id}/timeline",
                "/breaches/{breach_id}/report",
                "/breaches/{breach_id}/report.html",
                "/breaches/{breach_id}/obligations",
                "/breaches/{breach_id}/records/{regime}",
                "/breaches/{breach_id}/records/{regime}.html",
                "/breaches/{breach_id}/records/{regime}.pdf",
                "/incidents",
                "/incidents/{incident_id}",
            )
        },
        **OPERATIONS,
    },
    "notifier": {
        ("GET", "/breaches/{breach_id}/deliveries"): only(SECURITY, AUDITOR),
        ("GET", "/breaches/{breach_id}/deliveries/summary"): only(SECURITY, AUDITOR),
        # A bounce is handed in by the platform's own mail system.
        ("POST", "/bounces"): only(PLATFORM),
        **OPERATIONS,
    },
    # The security team and auditors read what detection raised; triage is the breach's.
    "detection": {
        ("GET", "/incidents"): only(SECURITY, AUDITOR),
        ("GET", "/rules"): only(SECURITY, AUDITOR),
        **OPERATIONS,
    },
}


@dataclass(frozen=True)
class Caller:
    """Who calls: a role's token (None: no token), and whether it is someone else, i.e.
    another subject than the target's user or another organisation than the target's."""

    role: Role | None
    other: bool = False

    @property
    def name(self) -> str:
        """How the caller reads in a failure."""
        if self.role is None:
            return "no token"
        return f"another {self.role.value}" if self.other else self.role.value

    def headers(self, target: Target, someone_else: str) -> dict[str, str]:
        """The caller's Authorization header, for a call about ``target``."""
        if self.role is None:
            return {}
        if self.role is Role.SUBJECT:
            return subject_token(someone_else if self.other else target.user_id)
        if self.role is Role.MEMBER_ORG:
            return org_token(TH_ORG if self.other else target.organisation)
        return token(self.role)


CALLERS = [
    Caller(None),
    *(Caller(role) for role in Role),
    Caller(Role.SUBJECT, other=True),
    Caller(Role.MEMBER_ORG, other=True),
]


def expected(access: Access, caller: Caller) -> int | str:
    """The status the table promises the caller, or ``allowed``."""
    if access.roles is None:
        return "allowed"
    if caller.role is None:
        return 401
    if caller.role not in access.roles:
        return 403
    if caller.other and caller.role in access.own:
        return access.own[caller.role]
    return "allowed"


def refused_by_role(response: httpx.Response) -> bool:
    """401, or the 403 that refuses a role (not a 403 the consent check gives)."""
    if response.status_code == 401:
        return True
    return response.status_code == 403 and _error(response) == "Forbidden"


def _error(response: httpx.Response) -> str | None:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return None
    return detail.get("error") if isinstance(detail, dict) else None


def verdict(response: httpx.Response, want: int | str) -> str | None:
    """What is wrong with ``response`` against ``want``, or None."""
    status = response.status_code
    # A 503 says a dependency did not answer in time (documented where it can happen).
    if status >= 500 and status != 503:
        return f"{status} (server error)"
    if want == "allowed":
        return f"{status} {_error(response)}: refused" if refused_by_role(response) else None
    if status != want:
        return f"{status}, not {want}"
    if _error(response) is None or "message" not in response.json()["detail"]:
        return f"{status} without the one error shape: {response.text[:120]}"
    if status == 401 and "bearer" not in response.headers.get("www-authenticate", "").lower():
        return "401 without WWW-Authenticate: Bearer"
    return None


def routes(service: str) -> set[tuple[str, str]]:
    """Every (method, path) the service's app serves, HEAD aside."""
    app = stacks.build(service, f"{service}_unused")
    found = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD" and route.path is not None:
                found.add((method, route.path))
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_has_a_row_in_the_table(service: str) -> None:
    served, rows = routes(service), set(TABLE[service])
    assert sorted(served - rows) == [], "routes with no row in the table"
    assert sorted(rows - served) == [], "rows for routes the app does not serve"


ROWS = [(s, method, path) for s in SERVICES for method, path in TABLE[s]]


def target_for(stack: Stack, seed: Seed, method: str, path: str) -> Target:
    """What a route's calls are about: for a route about a user or a consent, or one that
    writes, a user of its own with a consent (its calls may erase or restrict them), and
    an organisation of its own when the route retires one; else the seeded ones."""
    user_id, consent_id, receipt_id = seed.user_id, seed.consent_id, seed.receipt_id
    if method != "GET" or any(
        name in path for name in ("{user_id}", "{consent_id}", "{receipt_id}")
    ):
        user_id = stacks.register(stack)
        receipt = stacks.consent(stack, user_id, SHARING)
        consent_id, receipt_id = str(receipt["consent_id"]), str(receipt["receipt_id"])
    slug = PH_ORG
    if "{slug}" in path:
        slug = f"sec-{user_id[:8]}"
        with stack.client("consent") as consent:
            body = {"slug": slug, "name": "A retirable one", "kind": "private"}
            made = consent.post("/organisations", json=body, headers=stacks.ADMIN)
            assert made.status_code == 201, made.text
    seqs = seed.audit_seqs[PH_ORG]
    with stack.client("audit") as audit:
        head = audit.get("/tree-heads/latest", headers=stacks.AUDITOR).json()
    return Target(
        user_id=user_id,
        consent_id=consent_id,
        receipt_id=receipt_id,
        profile_id=seed.profile_id,
        organisation=PH_ORG,
        seq=seqs[0],
        tree_size=int(head["tree_size"]),
        slug=slug,
    )


@pytest.mark.parametrize(
    ("service", "method", "path"), ROWS, ids=[f"{s} {m} {p}" for s, m, p in ROWS]
)
def test_each_caller_gets_what_the_table_says(
    service: str, method: str, path: str, security_stack: Stack, seeded: Seed
) -> None:
    access = TABLE[service][(method, path)]
    target = target_for(security_stack, seeded, method, path)
    how = call_for(service, method, path)
    wrong: list[str] = []
    owner_status: int | None = None
    # Someone else first, then the owner: a call that erases must not hide a refusal.
    for caller in sorted(CALLERS, key=lambda c: not c.other):
        with security_stack.client(service) as client:
            response = client.request(
                method,
                target.fill(path),
                params=target.fill(how.params),
                json=how.json(target),
                headers=caller.headers(target, seeded.other_user_id),
            )
        want = expected(access, caller)
        problem = verdict(response, want)
        if problem:
            wrong.append(f"{caller.name}: {problem} ({response.text[:160]})")
        if caller.role in access.own and not caller.other:
            owner_status = response.status_code
    for role, status in access.own.items():
        if owner_status == status:
            wrong.append(f"the owning {role.value} also gets {status}: the refusal says nothing")
    assert not wrong, f"{method} {path}:\n  " + "\n  ".join(wrong)
