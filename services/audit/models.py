"""The audit service's API schemas: what each route returns, for ``/openapi.json``."""

from datetime import datetime

from pydantic import BaseModel, Field


class SubjectsPage(BaseModel):
    """A page of the subjects an organisation received data of in a window."""

    organisation: str = Field(examples=["ph-philexport"])
    since: datetime = Field(description="The window's start (included), in UTC.")
    until: datetime = Field(description="The window's end (excluded), in UTC.")
    categories: list[str] | None = Field(
        description="The data categories asked for (an entry counts when its fields overlap "
        "them); null: every category.",
        examples=[["email_address", "phone_number"]],
    )
    subjects: list[str] = Field(description="Subject ids, sorted (byte order).")
    next_after: str | None = Field(
        description="The last subject id of this page, to pass as `after` for the next one; "
        "null when this page is the last."
    )
