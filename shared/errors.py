"""The one error shape every service sends, documented once in every OpenAPI document.

Every 4xx answer is ``{"detail": {"error", "message", "field"?, "problems"?, ...}}``:
``error`` names the kind of error (a service exception's class name, ``InvalidRequest``
for a request that does not validate, ``Unauthorized``, ``Forbidden``, ``NotFound``),
``message`` says what is wrong in a sentence, ``field`` names the field at fault when
there is one, and ``problems`` lists every invalid field of a request that did not
validate. Some errors add context of their own (a refused disclosure adds its
``disclosure_id``).
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ServiceError(Exception):
    """Base of every service's own exceptions; ``status_code`` says how HTTP shows it."""

    status_code = 400

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class Problem(BaseModel):
    """One invalid field of a request."""

    field: str = Field(
        description="Where: a body field by its dotted path, or query., path. or header. "
        "and the parameter's name.",
        examples=["country_of_residence", "query.limit"],
    )
    problem: str = Field(description="What is wrong with it.", examples=["Field required"])
    type: str = Field(description="A machine-readable kind of problem.", examples=["missing"])


class ErrorDetail(BaseModel):
    """What went wrong."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="The kind of error.", examples=["InvalidRequest", "NotFound"])
    message: str = Field(description="What is wrong, in a sentence.")
    field: str | None = Field(default=None, description="The field at fault, if one is.")
    problems: list[Problem] | None = Field(
        default=None, description="Every invalid field, for a request that did not validate."
    )


class ErrorResponse(BaseModel):
    """The body of every 4xx answer (and of a 503 when a dependency does not answer)."""

    detail: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorResponse, "description": "The request was refused; `detail` says why."}
}
"""Documents every client error of every route with the one shape (OpenAPI range key)."""


def error_body(
    error: str, message: str, *, field: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The JSON body of an error answer."""
    detail: dict[str, Any] = {"error": error, "message": message}
    if field is not None:
        detail["field"] = field
    for key, value in extra.items():
        detail.setdefault(key, value)
    return {"detail": detail}
