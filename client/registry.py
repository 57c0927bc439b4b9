"""Calls of the registry: a person's data, registration, the organisations' read path."""

from urllib.parse import quote

from client.call import Call
from client.models.registry import DisclosureOut, ExportDocument, RegistrationIn, UserOut


def access(user_id: str) -> Call[ExportDocument]:
    """Right of access: everything the registry holds about the user."""
    return Call(
        service="registry",
        method="GET",
        path=f"/users/{quote(user_id, safe='')}",
        returns=ExportDocument,
        retry=True,
    )


def register(registration: RegistrationIn) -> Call[UserOut]:
    """Register a user (platform)."""
    return Call(
        service="registry", method="POST", path="/users", returns=UserOut, body=registration
    )


def read_data(user_id: str, *, purpose: str, fields: list[str]) -> Call[DisclosureOut]:
    """A member organisation reads a user's data (recorded in the audit log)."""
    return Call(
        service="registry",
        method="GET",
        path=f"/users/{quote(user_id, safe='')}/data",
        returns=DisclosureOut,
        params={"purpose": purpose, "fields": fields},
    )
