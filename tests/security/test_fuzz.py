"""Every operation of every service, fuzzed from its own OpenAPI document (schemathesis).

Each (operation, role) pair is one test: at most ``MAX_EXAMPLES`` generated requests
(valid and invalid ones) plus schemathesis' boundary cases, sent with that role's token
to the running service. Every answer must be below 500, carry a documented status code
and content type, and match the schema documented for that status. What is generated is
mixed with the seeded ids (so the fuzzer reaches real rows, not only 404s), with a valid
call of the route (so it gets past validation) and with edge values (``edges.py``). The
run is derandomized: the same code gets the same requests, on CI as here.
"""

from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.auth import Role
from tests.security import edges
from tests.security.calls import CALLS, PLACEHOLDERS, Target, call_for
from tests.security.stack import PH_ORG, Seed, Stack, build, org_token, subject_token, token

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    # schemathesis' own strategies draw from `random`, which Hypothesis seeds; it warns.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

edges.register_edge_instants()

MAX_EXAMPLES = 10
"""Generated requests per operation and role; bounded so the whole run fits CI's budget."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

ROLES: dict[str, tuple[Role, ...]] = {
    "registry": (Role.ADMIN, Role.SUBJECT, Role.MEMBER_ORG),
    "consent": (Role.ADMIN, Role.SUBJECT),
    "audit": (Role.AUDITOR, Role.MEMBER_ORG),
    "breach": (Role.ADMIN, Role.SECURITY),
    "notifier": (Role.ADMIN, Role.PLATFORM),
    "detection": (Role.ADMIN, Role.SECURITY),
}
"""The roles each service is fuzzed with: at least two, among them one that owns data."""


def headers(role: Role, seed: Seed) -> dict[str, str]:
    """The role's token; a subject is the seeded user, an organisation the seeded one."""
    if role is Role.SUBJECT:
        return subject_token(seed.fuzzed.user_id)
    if role is Role.MEMBER_ORG:
        return org_token(PH_ORG)
    return token(role)


SEEDS: list[Seed] = []
"""The running stack's seed, once it is up: the hooks below make requests about it."""


@pytest.fixture(autouse=True)
def seed_for_the_hooks(seeded: Seed) -> None:
    """Hand the seed to the generation hooks (they run inside the test, after fixtures)."""
    SEEDS[:] = [seeded]


def seeded_ids(seed: Seed) -> dict[str, list[Any]]:
    """Real values for path parameters, by name: the fuzzer's own user's."""
    return {
        "user_id": [seed.fuzzed.user_id],
        "profile_id": [seed.fuzzed.profile_id],
        "consent_id": [seed.fuzzed.consent_id],
        "receipt_id": [seed.fuzzed.receipt_id],
        "organisation": [PH_ORG],
        "seq": [seq for seqs in seed.audit_seqs.values() for seq in seqs],
    }


def seeded_target(seed: Seed) -> Target:
    """The fuzzer's user, their consent and the seeded organisation, for the valid calls."""
    seqs = seed.audit_seqs[PH_ORG]
    return Target(
        user_id=seed.fuzzed.user_id,
        consent_id=seed.fuzzed.consent_id,
        receipt_id=seed.fuzzed.receipt_id,
        profile_id=seed.fuzzed.profile_id,
        organisation=PH_ORG,
        seq=seqs[0],
        tree_size=max(max(v) for v in seed.audit_seqs.values()) + 1,
        slug=PH_ORG,
    )


def with_seeded_ids(
    operation: Any, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """``path_parameters`` as generated, or with the seeded ids in their place."""
    # Never erase or retire the seeded rows: the other operations need them.
    if (
        not SEEDS
        or not path_parameters
        or operation.method.upper() == "DELETE"
        or "/retire" in operation.path
    ):
        return st.just(path_parameters)
    known = {k: v for k, v in seeded_ids(SEEDS[0]).items() if k in path_parameters}
    if not known:
        return st.just(path_parameters)
    seeded = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in known.items()})
    return st.one_of(st.just(path_parameters), seeded.map(lambda s: {**path_parameters, **s}))


def openapi(service: str) -> schemathesis.BaseSchema:
    """The service's OpenAPI document, as its app builds it, read by schemathesis; what
    it generates is mixed with the seeded ids, the valid calls and edge values."""
    doc = build(service, f"{service}_unused").openapi()
    fields = edges.edge_fields(doc)
    schema = schemathesis.openapi.from_dict(doc)
    # A body made afresh on every draw would make Hypothesis' replays differ: one each.
    bodies = {key: how.json(PLACEHOLDERS) for key, how in CALLS[service].items()}

    def route(context: schemathesis.HookContext) -> tuple[str, str]:
        operation = context.operation
        assert operation is not None
        return operation.method.upper(), operation.path

    def edged(context: schemathesis.HookContext, where: str) -> edges.Fields:
        return fields.get((*route(context), where), {})

    @schema.hook
    def flatmap_path_parameters(
        context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        with_edges = edges.with_edges(path_parameters, edged(context, "path_parameters"))
        return st.one_of(with_edges, with_seeded_ids(context.operation, path_parameters))

    @schema.hook
    def flatmap_query(
        context: schemathesis.HookContext, query: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        generated = edges.with_edges(query, edged(context, "query"))
        valid = call_for(service, *route(context)).params
        if not valid or not SEEDS:  # schemathesis draws some examples while collecting
            return generated
        valid = seeded_target(SEEDS[0]).fill(valid)
        return st.one_of(
            generated, edges.with_edges({**(query or {}), **valid}, edged(context, "query"))
        )

    @schema.hook
    def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
        generated = edges.with_edges(body, edged(context, "body"))
        valid = bodies.get(route(context))
        if valid is None or not SEEDS:
            return generated
        filled = seeded_target(SEEDS[0]).fill(valid)
        return st.one_of(generated, edges.with_edges(filled, edged(context, "body")))

    return schema


def fuzz(service: str) -> Callable[..., None]:
    """The test of every operation of ``service``, with each of its roles' tokens."""
    schema = openapi(service)

    @pytest.mark.parametrize("role", ROLES[service], ids=lambda r: r.value)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @schema.parametrize()
    def test(case: schemathesis.Case, role: Role, security_stack: Stack, seeded: Seed) -> None:
        case.call_and_validate(
            base_url=security_stack.urls[service],
            headers=headers(role, seeded),
            checks=CHECKS,
            timeout=30,
        )

    test.__doc__ = f"No answer of the {service} service is a 5xx or strays from its document."
    return test


test_registry_fuzzed = fuzz("registry")
test_consent_fuzzed = fuzz("consent")
test_audit_fuzzed = fuzz("audit")
test_breach_fuzzed = fuzz("breach")
test_notifier_fuzzed = fuzz("notifier")
test_detection_fuzzed = fuzz("detection")
