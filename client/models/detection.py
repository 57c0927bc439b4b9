"""detection: generated from the service's OpenAPI document; do not edit.

Regenerate with ``python -m devtools.openapi_models`` (``make models``).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class IncidentOut(BaseModel):
    """
    An incident as detection sees it: open until the security team triages it.
    """

    alerts: Annotated[int, Field(title="Alerts")]
    breach_id: Annotated[str | None, Field(title="Breach Id")]
    closed_at: Annotated[AwareDatetime | None, Field(title="Closed At")]
    decision: Annotated[
        str | None,
        Field(description="declared or dismissed, once triaged.", title="Decision"),
    ]
    evidence: Annotated[
        list[dict[str, Any]],
        Field(description="The alerts' payloads, oldest first.", title="Evidence"),
    ]
    family: Annotated[
        str,
        Field(
            description="The rules' family; alerts merge by it.",
            examples=["volume"],
            title="Family",
        ),
    ]
    incident_id: Annotated[UUID, Field(title="Incident Id")]
    last_alert_at: Annotated[AwareDatetime, Field(title="Last Alert At")]
    opened_at: Annotated[AwareDatetime, Field(title="Opened At")]
    organisation_id: Annotated[str | None, Field(title="Organisation Id")]
    producer: Annotated[str | None, Field(title="Producer")]


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


class RuleSettings(BaseModel):
    """
    The knobs of the rules, for every organisation or for one (``docs/detection.md``).
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    breadth_factor: Annotated[float | None, Field(gt=1.0, title="Breadth Factor")] = 2.0
    breadth_min_subjects: Annotated[int | None, Field(ge=1, title="Breadth Min Subjects")] = 500
    disabled: Annotated[list[str] | None, Field(title="Disabled")] = None
    learning_hours: Annotated[int | None, Field(ge=0, title="Learning Hours")] = 168
    rate_factor: Annotated[float | None, Field(gt=1.0, title="Rate Factor")] = 10.0
    rate_min_reads: Annotated[int | None, Field(ge=1, title="Rate Min Reads")] = 500
    refusal_factor: Annotated[float | None, Field(gt=1.0, title="Refusal Factor")] = 5.0
    refusal_min: Annotated[int | None, Field(ge=1, title="Refusal Min")] = 50
    sustained_factor: Annotated[float | None, Field(gt=1.0, title="Sustained Factor")] = 3.0
    sustained_hours: Annotated[int | None, Field(ge=1, le=48, title="Sustained Hours")] = 6
    sustained_min_reads: Annotated[int | None, Field(ge=1, title="Sustained Min Reads")] = 300
    violations_min: Annotated[int | None, Field(ge=1, title="Violations Min")] = 10


class RulesOut(BaseModel):
    """
    The rule settings in force for an organisation.
    """

    baseline_weeks: Annotated[int, Field(title="Baseline Weeks")]
    organisation_id: Annotated[str | None, Field(title="Organisation Id")]
    overridden: Annotated[
        bool,
        Field(
            description="Whether the organisation has settings of its own.",
            title="Overridden",
        ),
    ]
    settings: RuleSettings


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


class IncidentList(BaseModel):
    incidents: Annotated[list[IncidentOut], Field(title="Incidents")]
