"""A valid request for every route, so a refusal is about who calls, never about the input.

The role matrix sends these with every caller's token; the fuzzer starts from them too
(with edge values mixed in), so it gets past validation into the code behind it. A
route not listed here is called with no query and no body. Paths, queries and bodies
name the target with ``{placeholders}`` filled from a :class:`Target`.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.consent.repository import NOTICE_VERSION
from tests.security.stack import PROFILE, SHARING, registration


@dataclass(frozen=True)
class Target:
    """What a call is about: a user, their consent, an organisation's entry in the log."""

    user_id: str
    consent_id: str
    receipt_id: str
    profile_id: str
    organisation: str
    seq: int
    tree_size: int
    slug: str
    breach_id: str = "00000000-0000-4000-8000-000000000000"
    """A breach no one declared: allowed callers get past the role check to a 404."""
    regime: str = "sg"
    """A regime of the regimes file (its records and obligations of a breach no one made)."""
    request_id: str = "00000000-0000-4000-8000-000000000000"
    """A recipient request no one made: allowed callers get past the role check to a 404."""
    grant_id: str = "00000000-0000-4000-8000-000000000000"
    """A grant no one made: allowed callers get past the role check to a 404."""
    incident_id: str = "00000000-0000-4000-8000-000000000000"
    """An incident nobody detected: allowed callers get past the role check to a 404."""
    tile_path: str = "0/000.p/1"
    """The log's first leaf hash as a partial tile (c2sp.org/tlog-tiles)."""

    def fill(self, value: Any) -> Any:
        """``value`` with every ``{placeholder}`` in its strings filled in."""
        if isinstance(value, str):
            value = re.sub(r"\{(\w+):\w+\}", r"{\1}", value)  # a route's {name:path}
            whole = value.removeprefix("{").removesuffix("}")
            if value == "{" + whole + "}" and hasattr(self, whole):
                return getattr(self, whole)  # keeps an int an int
            return value.format(**vars(self))
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value


PLACEHOLDERS = Target(**{name: "{" + name + "}" for name in Target.__dataclass_fields__})  # type: ignore[arg-type]
"""A target that fills every placeholder with itself: a call's body made once, filled later."""


@dataclass(frozen=True)
class Call:
    """How to call one route: the query and the JSON body, with placeholders."""

    params: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | Callable[[], dict[str, Any]] | None = None

    def json(self, target: Target) -> Any:
        """The body, filled in for ``target``; a callable body is made afresh each call."""
        body = self.body() if callable(self.body) else self.body
        return None if body is None else target.fill(body)


def _window(start_days: int, end_days: int) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "valid_from": (now + timedelta(days=start_days)).isoformat(),
        "valid_until": (now + timedelta(days=end_days)).isoformat(),
    }


def _organisation() -> dict[str, Any]:
    return {"slug": f"x-{datetime.now(UTC).timestamp():.6f}".replace(".", "-"), **_ORG}


_ORG = {"name": "Security suite organisation", "country": "PH", "kind": "private"}
_WINDOW = {"since": "2020-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}

CALLS: dict[str, dict[tuple[str, str], Call]] = {
    "registry": {
        ("POST", "/users"): Call(body=registration),
        ("PATCH", "/users/{user_id}"): Call(body={"company_name": "Santos Global"}),
        ("PUT", "/users/{user_id}/restriction"): Call(
            body={"restricted": False, "objected": False}
        ),
        ("PUT", "/users/{user_id}/profile"): Call(body=PROFILE),
        ("GET", "/users/{user_id}/data"): Call(
            params={"purpose": SHARING, "fields": "full_name,email_address"}
        ),
        ("POST", "/users/{user_id}/legal-disclosures"): Call(
            body={
                "organisation": "makati-regional-trial-court",
                "organisation_country": "PH",
                "fields": ["full_name"],
                "legal_reference": "Subpoena No. 2026-1142",
            }
        ),
        ("GET", "/profiles"): Call(params={"country": "PH", "limit": 5}),
        ("POST", "/reports/users"): Call(
            body={
                "purpose": SHARING,
                "fields": ["full_name", "email_address"],
                "user_ids": ["{user_id}"],
            }
        ),
    },
    "consent": {
        ("POST", "/organisations"): Call(body=_organisation),
        ("PATCH", "/organisations/{slug}"): Call(body={"privacy_contact": "dpo@{slug}.example"}),
        ("POST", "/grants"): Call(
            body=lambda: {
                "organisation": "{organisation}",
                "data_categories": ["full_name"],
                **_window(-1, 30),
            }
        ),
        ("GET", "/grants"): Call(params={"organisation": "{organisation}"}),
        ("POST", "/consents"): Call(
            body={"user_id": "{user_id}", "purpose": SHARING, "notice_version": NOTICE_VERSION}
        ),
        ("POST", "/consents/{consent_id}/withdraw"): Call(body={"reason": "changed my mind"}),
        ("GET", "/users/{user_id}/consents"): Call(params={"at": "2030-01-01T00:00:00Z"}),
        ("POST", "/decisions"): Call(
            body={
                "user_id": "{user_id}",
                "organisation": "{organisation}",
                "purpose": SHARING,
                "data_categories": ["full_name"],
            }
        ),
    },
    "audit": {
        ("GET", "/disclosures"): Call(params={"organisation": "{organisation}", "limit": 10}),
        ("GET", "/disclosures/export"): Call(params={"organisation": "{organisation}"}),
        ("GET", "/organisations/{organisation}/subjects"): Call(params=_WINDOW),
        ("GET", "/proofs/inclusion"): Call(params={"seq": "{seq}", "tree_size": "{tree_size}"}),
        ("GET", "/proofs/consistency"): Call(params={"first": 1, "second": "{tree_size}"}),
        ("GET", "/entries"): Call(params={"start": 0, "end": 10}),
        ("POST", "/recipient-requests/{request_id}/keep"): Call(
            body={"reference": "Membership contract M-2026-0142"}
        ),
    },
    "breach": {
        ("POST", "/incidents/{incident_id}/dismiss"): Call(body={"reason": "A drill."}),
    },
    "notifier": {},
    "detection": {},
}


def call_for(service: str, method: str, path: str) -> Call:
    """The valid call of a route (no query, no body when none is needed)."""
    return CALLS[service].get((method, path), Call())
