"""Calls of the registry: a person's data, registration, the organisations' read path."""

from urllib.parse import quote

from client.call import Call
from client.models.registry import (
    DisclosureOut,
    ErasureOut,
    ExportDocument,
    ProfileIn,
    ProfileOut,
    PublicProfile,
    RegistrationIn,
    UserOut,
)


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


def put_profile(user_id: str, profile: ProfileIn) -> Call[ProfileOut]:
    """Create or replace the user's service-provider profile (the user, or an admin)."""
    return Call(
        service="registry",
        method="PUT",
        path=f"/users/{quote(user_id, safe='')}/profile",
        returns=ProfileOut,
        body=profile,
    )


def publish_profile(user_id: str) -> Call[ProfileOut]:
    """Publish the profile (Conflict without consent to public visibility)."""
    return Call(
        service="registry",
        method="POST",
        path=f"/users/{quote(user_id, safe='')}/profile/publish",
        returns=ProfileOut,
    )


def public_profile(profile_id: str) -> Call[PublicProfile]:
    """A published profile, as anyone sees it (no token needed)."""
    return Call(
        service="registry",
        method="GET",
        path=f"/profiles/{quote(profile_id, safe='')}",
        returns=PublicProfile,
        retry=True,
    )


def export(user_id: str) -> Call[ExportDocument]:
    """Data portability: everything the registry holds about the user, as a download."""
    return Call(
        service="registry",
        method="GET",
        path=f"/users/{quote(user_id, safe='')}/export",
        returns=ExportDocument,
        retry=True,
    )


def erase(user_id: str) -> Call[ErasureOut]:
    """Right to erasure (the user, or an admin)."""
    return Call(
        service="registry",
        method="DELETE",
        path=f"/users/{quote(user_id, safe='')}",
        returns=ErasureOut,
    )
