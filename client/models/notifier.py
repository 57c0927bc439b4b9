"""notifier: generated from the service's OpenAPI document; do not edit.

Regenerate with ``python -m devtools.openapi_models`` (``make models``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class BounceAnswer(BaseModel):
    action: Annotated[str, Field(examples=["failed"], title="Action")]
    diagnostic: Annotated[str | None, Field(title="Diagnostic")]
    effect: Annotated[
        str,
        Field(
            description="bounced: the notice is now failed (notification.failed, reason bounced); already: it had failed before; noted: the DSN reports no failure.",
            title="Effect",
        ),
    ]
    message_id: Annotated[str, Field(title="Message Id")]
    notice_id: Annotated[str, Field(title="Notice Id")]
    status: Annotated[str, Field(examples=["5.1.1"], title="Status")]


class DeliverySummary(BaseModel):
    breach_id: Annotated[str, Field(title="Breach Id")]
    counts: Annotated[dict[str, int], Field(description="Notices in each state.", title="Counts")]
    reclaimed: Annotated[
        int, Field(description="Notices claimed more than once.", title="Reclaimed")
    ]
    uncertain: Annotated[
        int,
        Field(
            description="Notices sent again after a crash or a rebalance.",
            title="Uncertain",
        ),
    ]


class Problem(BaseModel):
    """
    One invalid field of a request.
    """

    field: Annotated[
        str,
        Field(
            description="Where: a body field by its dotted path, or query., path. or header. and the parameter's name.",
            examples=["country_of_residence", "query.limit"],
            title="Field",
        ),
    ]
    problem: Annotated[
        str,
        Field(
            description="What is wrong with it.",
            examples=["Field required"],
            title="Problem",
        ),
    ]
    type: Annotated[
        str,
        Field(
            description="A machine-readable kind of problem.",
            examples=["missing"],
            title="Type",
        ),
    ]


class State(StrEnum):
    """
    Where a notice stands; each state says exactly what is known, no more.
    """

    claimed = "claimed"
    accepted = "accepted"
    failed = "failed"
    bounced = "bounced"


class Delivery(BaseModel):
    """
    What the notifier knows about one notice.
    """

    accepted_at: Annotated[AwareDatetime | None, Field(title="Accepted At")]
    attempts: Annotated[
        int, Field(description="SMTP attempts, every claim included.", title="Attempts")
    ]
    bounce_status: Annotated[
        str | None,
        Field(description="The DSN's status code (RFC 3463).", title="Bounce Status"),
    ]
    bounced_at: Annotated[AwareDatetime | None, Field(title="Bounced At")]
    breach_id: Annotated[str | None, Field(title="Breach Id")]
    claimed_at: Annotated[AwareDatetime, Field(title="Claimed At")]
    claims: Annotated[
        int,
        Field(
            description="Times the notice was claimed (more than 1: resumed).",
            title="Claims",
        ),
    ]
    detail: Annotated[str | None, Field(title="Detail")]
    failed_at: Annotated[AwareDatetime | None, Field(title="Failed At")]
    kind: Annotated[str, Field(examples=["breach_notice"], title="Kind")]
    language: Annotated[
        str | None, Field(description="The template language used.", title="Language")
    ]
    message_id: Annotated[
        str,
        Field(
            description="The Message-ID every copy of the notice carried.",
            title="Message Id",
        ),
    ]
    notice_id: Annotated[
        str, Field(description="The request's idempotency key.", title="Notice Id")
    ]
    organisation: Annotated[
        str | None,
        Field(
            description="The organisation told, for a recipient notice.",
            title="Organisation",
        ),
    ] = None
    queue_id: Annotated[
        str | None,
        Field(
            description="The server's queue id, when its reply named one.",
            title="Queue Id",
        ),
    ]
    reason: Annotated[
        str | None,
        Field(
            description="no_contact, erased, rejected, retries_exhausted or bounced.",
            title="Reason",
        ),
    ]
    requested_at: Annotated[AwareDatetime, Field(title="Requested At")]
    resends: Annotated[
        int | None,
        Field(
            description="Re-sends the security team asked for that reopened it.",
            title="Resends",
        ),
    ] = 0
    smtp_code: Annotated[
        int | None,
        Field(description="The server's last reply code.", title="Smtp Code"),
    ]
    smtp_reply: Annotated[
        str | None,
        Field(description="The server's last reply text.", title="Smtp Reply"),
    ]
    started_at: Annotated[
        AwareDatetime | None,
        Field(
            description="When it was last handed to the SMTP server (a send began).",
            title="Started At",
        ),
    ]
    state: Annotated[
        State,
        Field(
            description="claimed: being sent, no outcome yet; accepted: a mail server answered 250 (accepted for delivery, not read); failed: not sent (see reason); bounced: accepted, then reported undeliverable."
        ),
    ]
    uncertain: Annotated[
        bool,
        Field(
            description="Sent again after a claim with no recorded outcome: the person may hold two copies, with the same Message-ID.",
            title="Uncertain",
        ),
    ]
    user_id: Annotated[str | None, Field(title="User Id")]


class DeliveryPage(BaseModel):
    items: Annotated[list[Delivery], Field(title="Items")]
    next_after: Annotated[
        str | None,
        Field(
            description="Pass as `after` for the next page; null on the last page.",
            title="Next After",
        ),
    ]


class ErrorDetail(BaseModel):
    """
    What went wrong.
    """

    model_config = ConfigDict(
        extra="allow",
    )
    error: Annotated[
        str,
        Field(
            description="The kind of error.",
            examples=["InvalidRequest", "NotFound"],
            title="Error",
        ),
    ]
    field: Annotated[
        str | None, Field(description="The field at fault, if one is.", title="Field")
    ] = None
    message: Annotated[str, Field(description="What is wrong, in a sentence.", title="Message")]
    problems: Annotated[
        list[Problem] | None,
        Field(
            description="Every invalid field, for a request that did not validate.",
            title="Problems",
        ),
    ] = None


class ErrorResponse(BaseModel):
    """
    The body of every 4xx answer (and of a 503 when a dependency does not answer).
    """

    detail: ErrorDetail
