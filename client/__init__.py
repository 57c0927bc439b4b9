"""A typed client of the five services' public APIs, sync and async, on httpx.

    from client import Client, audit
    with Client(token=token) as api:
        for row in api.pages(audit.disclosures(audit.Filters(organisation="ph-philexport"))):
            ...

Routes are described once (``client.audit``, ``client.breach``, ``client.consent``,
``client.registry``) and sent by :class:`Client` or :class:`AsyncClient`; the models are
generated from the services' OpenAPI documents (``client/models/``); errors are the
typed exceptions of ``client.errors``.
"""

from client.call import SERVICES, Call, Paged, Service
from client.errors import (
    ApiError,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServerError,
    Unauthorized,
    Unavailable,
)
from client.http import AsyncClient, Client, ServiceUrls

__all__ = [
    "SERVICES",
    "ApiError",
    "AsyncClient",
    "Call",
    "Client",
    "Conflict",
    "Forbidden",
    "Invalid",
    "NotFound",
    "Paged",
    "ServerError",
    "Service",
    "ServiceUrls",
    "Unauthorized",
    "Unavailable",
]
