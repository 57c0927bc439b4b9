"""Calls of the audit service: the trail, exports, violations, recipients, the log."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from client.call import Call, Paged
from client.models.audit import (
    ConsistencyProof,
    Disclosure,
    DisclosurePage,
    EntryOut,
    InclusionProof,
    PublicKey,
    RecipientRequestOut,
    RecipientRequestPage,
    SubjectReport,
    SubjectsPage,
    TreeHead,
)


@dataclass(frozen=True)
class Filters:
    """Every filter of ``/disclosures`` and its export."""

    subject: str | None = None
    organisation: str | None = None
    country: str | None = None
    purpose: str | None = None
    legal_basis: str | None = None
    decision: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    violations: bool = False

    def params(self) -> dict[str, object]:
        """The query parameters, unset ones left out."""
        return {**vars(self), "violations": self.violations or None}


def disclosures(
    filters: Filters = Filters(), *, limit: int = 1000
) -> Paged[DisclosurePage, Disclosure]:
    """Disclosures in log order, every page (``client.pages``) or one (``client.send``)."""
    return Paged(
        service="audit",
        method="GET",
        path="/disclosures",
        returns=DisclosurePage,
        params={**filters.params(), "limit": limit},
        retry=True,
        items=lambda page: page.items,
        cursor=lambda page: page.next_cursor,
        cursor_param="cursor",
    )


def export(
    filters: Filters = Filters(), *, format: Literal["csv", "jsonl"] = "jsonl"
) -> Call[bytes]:
    """The same disclosures streamed as CSV or JSON lines (``client.stream``)."""
    return Call(
        service="audit",
        method="GET",
        path="/disclosures/export",
        returns=bytes,
        params={**filters.params(), "format": format},
        retry=True,
    )


def violations(*, limit: int = 1000) -> Paged[DisclosurePage, Disclosure]:
    """Disclosures the consent check after the fact found without a valid basis."""
    return Paged(
        service="audit",
        method="GET",
        path="/violations",
        returns=DisclosurePage,
        params={"limit": limit},
        retry=True,
        items=lambda page: page.items,
        cursor=lambda page: page.next_cursor,
        cursor_param="cursor",
    )


def subject_report(user_id: str, *, limit: int = 1000) -> Paged[SubjectReport, Disclosure]:
    """Who received a person's data (and the notices the platform sent them)."""
    return Paged(
        service="audit",
        method="GET",
        path=f"/subjects/{quote(user_id, safe='')}/report",
        returns=SubjectReport,
        params={"limit": limit},
        retry=True,
        items=lambda page: page.items,
        cursor=lambda page: page.next_cursor,
        cursor_param="cursor",
    )


def subjects(
    organisation: str,
    *,
    since: datetime,
    until: datetime,
    categories: list[str] | None = None,
    limit: int = 1000,
) -> Paged[SubjectsPage, str]:
    """The subjects whose data reached ``organisation`` in a window."""
    return Paged(
        service="audit",
        method="GET",
        path=f"/organisations/{quote(organisation, safe='')}/subjects",
        returns=SubjectsPage,
        params={"since": since, "until": until, "categories": categories, "limit": limit},
        retry=True,
        items=lambda page: page.subjects,
        cursor=lambda page: page.next_after,
        cursor_param="after",
    )


def recipient_requests(
    *,
    organisation: str | None = None,
    state: str | None = None,
    action: str | None = None,
    user_id: str | None = None,
    limit: int = 1000,
) -> Paged[RecipientRequestPage, RecipientRequestOut]:
    """Requests to the recipients of a person's data (state ``overdue``: past respond_by)."""
    return Paged(
        service="audit",
        method="GET",
        path="/recipient-requests",
        returns=RecipientRequestPage,
        params={
            "organisation": organisation,
            "state": state,
            "action": action,
            "user_id": user_id,
            "limit": limit,
        },
        retry=True,
        items=lambda page: page.items,
        cursor=lambda page: page.next_cursor,
        cursor_param="cursor",
    )


def latest_tree_head() -> Call[TreeHead]:
    """The newest signed tree head."""
    return Call(
        service="audit", method="GET", path="/tree-heads/latest", returns=TreeHead, retry=True
    )


def public_key() -> Call[PublicKey]:
    """The Ed25519 key tree heads are signed with."""
    return Call(service="audit", method="GET", path="/public-key", returns=PublicKey, retry=True)


def entry(seq: int) -> Call[EntryOut]:
    """One entry, with the exact leaf data that was hashed."""
    return Call(service="audit", method="GET", path=f"/entries/{seq}", returns=EntryOut, retry=True)


def inclusion_proof(seq: int, tree_size: int) -> Call[InclusionProof]:
    """The audit path of entry ``seq`` in the signed tree of ``tree_size``."""
    return Call(
        service="audit",
        method="GET",
        path="/proofs/inclusion",
        returns=InclusionProof,
        params={"seq": seq, "tree_size": tree_size},
        retry=True,
    )


def consistency_proof(first: int, second: int) -> Call[ConsistencyProof]:
    """That the tree of ``first`` entries is a prefix of that of ``second``."""
    return Call(
        service="audit",
        method="GET",
        path="/proofs/consistency",
        returns=ConsistencyProof,
        params={"first": first, "second": second},
        retry=True,
    )
