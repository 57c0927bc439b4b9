"""A call of one route, described once and sent by either client (sync or async).

The functions in ``client.registry``, ``client.consent``, ``client.audit``,
``client.breach`` and ``client.notifier`` build :class:`Call` values; :class:`Client`
and :class:`AsyncClient` send them. So each route is written once, typed by the model
the service publishes in its OpenAPI document (``client/models/``), for both clients.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

Service = Literal["registry", "consent", "audit", "breach", "notifier"]
SERVICES: tuple[Service, ...] = ("registry", "consent", "audit", "breach", "notifier")
DEFAULT_PORTS: dict[Service, int] = {
    "registry": 8001,
    "consent": 8002,
    "audit": 8003,
    "breach": 8004,
    "notifier": 8005,
}

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item of a page


@dataclass(frozen=True, kw_only=True)
class Call(Generic[T]):
    """One request: which service, the route, its query and body, and what it returns."""

    service: Service
    method: str
    path: str
    returns: Any = None
    """The response's type (a model, ``list[Model]``); None: no body; ``bytes``: raw."""
    params: Mapping[str, Any] = field(default_factory=dict)
    body: BaseModel | Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    retry: bool = False
    """Safe to send again after no answer: a read, or a write with an idempotency key."""

    def query(self) -> dict[str, str | int | bool]:
        """The query string's parameters, without the unset ones."""
        return {k: _plain(v) for k, v in self.params.items() if v is not None}

    def json(self) -> Any:
        """The body as JSON-ready data."""
        if isinstance(self.body, BaseModel):
            return self.body.model_dump(mode="json", exclude_unset=True)
        return None if self.body is None else dict(self.body)

    def parse(self, response: httpx.Response) -> T:
        """The answer as the call's type."""
        if self.returns is None:
            return None  # type: ignore[return-value]
        if self.returns is bytes:
            return response.content  # type: ignore[return-value]
        return _adapter(self.returns).validate_json(response.content)


@dataclass(frozen=True, kw_only=True)
class Paged(Call[T], Generic[T, I]):
    """A call of a route that answers a page at a time, and how to ask for the next."""

    items: Callable[[T], Sequence[I]]
    cursor: Callable[[T], str | int | None]
    cursor_param: str

    def next(self, page: T) -> "Paged[T, I] | None":
        """The call of the page after ``page``; None after the last."""
        after = self.cursor(page)
        if after is None:
            return None
        return Paged(
            service=self.service,
            method=self.method,
            path=self.path,
            returns=self.returns,
            params={**self.params, self.cursor_param: after},
            body=self.body,
            headers=self.headers,
            retry=self.retry,
            items=self.items,
            cursor=self.cursor,
            cursor_param=self.cursor_param,
        )


_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(kind: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(kind)
    if adapter is None:
        adapter = _adapters[kind] = TypeAdapter(kind)
    return adapter


def _plain(value: Any) -> str | int | bool:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool | int | str):
        return value
    return str(value)
