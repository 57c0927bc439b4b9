"""Forms to API bodies, and the API's problems back to the fields of the form (pure).

Each form is checked here with the very model the client sends (generated from the
service's OpenAPI document), so most problems are shown without a call; what only the
service can judge comes back as its ``problems`` and is put beside the same fields.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from client import ApiError
from services.console.domain import split_list

Form = Mapping[str, Any]
"""A posted form: a name to a value (``getlist`` where a name repeats)."""

_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


@dataclass
class Checked:
    """A form read: the body to send, and the problems by form field (none: send it)."""

    body: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    scope_fields: list[str] = field(default_factory=list)
    """The form field each scope of the body came from, in order."""
    one_scope: bool = False
    """The body is one scope (the add-a-scope form), not a declaration."""

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.errors


def text(form: Form, name: str) -> str | None:
    """A text field, trimmed; None when blank."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def instant(value: str | None) -> str | None:
    """A date and time as the browser's ``datetime-local`` gives it, read in UTC (the form
    says so); a value with its own offset is kept as it is."""
    if value is None:
        return None
    if _LOCAL.match(value):
        return value + "+00:00"
    return value


def values(form: Form, name: str) -> list[str]:
    """Every value of a field that repeats (checkboxes)."""
    getlist = getattr(form, "getlist", None)
    found = getlist(name) if getlist else [form.get(name)]
    return [v for v in found if isinstance(v, str) and v]


def declaration(form: Form) -> Checked:
    """The declaration form as the body of ``POST /breaches``."""
    body: dict[str, Any] = {}
    for name in (
        "title",
        "what_happened",
        "likely_consequences",
        "measures_taken",
        "what_you_can_do",
        "contact_point",
    ):
        body[name] = text(form, name)
    body["kinds"] = values(form, "kinds")
    body["data_categories"] = split_list(text(form, "data_categories") or "")
    for name in ("detected_at", "aware_at", "started_at", "ended_at"):
        body[name] = instant(text(form, name))
    errors: dict[str, str] = {}
    records = text(form, "approximate_records")
    if records is not None:
        try:
            body["approximate_records"] = int(records)
        except ValueError:
            errors["approximate_records"] = "a whole number of records, or leave it empty"
    scopes, scope_fields = scopes_of(form)
    body["scope"] = scopes or None
    body = {k: v for k, v in body.items() if v not in (None, [])}
    checked = Checked(body, errors, scope_fields)
    return checked


def scopes_of(form: Form, prefix: str = "scope_") -> tuple[list[dict[str, Any]], list[str]]:
    """The scopes a form names: people by id, an organisation in a window, countries,
    everyone; and the form field each came from."""
    scopes: list[dict[str, Any]] = []
    fields: list[str] = []
    users = split_list(text(form, f"{prefix}users") or "")
    if users:
        scopes.append({"kind": "users", "user_ids": users})
        fields.append(f"{prefix}users")
    organisation = text(form, f"{prefix}organisation")
    if organisation:
        scope: dict[str, Any] = {
            "kind": "organisation",
            "organisation": organisation,
            "since": instant(text(form, f"{prefix}since")),
            "until": instant(text(form, f"{prefix}until")),
        }
        categories = split_list(text(form, f"{prefix}categories") or "")
        if categories:
            scope["data_categories"] = categories
        scopes.append(scope)
        fields.append(f"{prefix}organisation")
    for country in split_list((text(form, f"{prefix}countries") or "").upper()):
        scopes.append({"kind": "country", "country": country})
        fields.append(f"{prefix}countries")
    if text(form, f"{prefix}everyone"):
        scopes.append({"kind": "everyone"})
        fields.append(f"{prefix}everyone")
    return scopes, fields


def check(checked: Checked, model: type[BaseModel]) -> Checked:
    """Validate the body with the API's own model; its problems go beside their fields."""
    try:
        model.model_validate(checked.body)
    except ValidationError as exc:
        for error in exc.errors():
            place = ".".join(str(p) for p in error["loc"])
            _put(checked, place, error["msg"])
    return checked


def from_api(checked: Checked, error: ApiError) -> Checked:
    """The service's refusal, each problem beside its field (or at the top)."""
    if error.problems:
        for problem in error.problems:
            _put(checked, str(problem.get("field") or ""), str(problem.get("problem") or ""))
    else:
        _put(checked, error.field or "", error.message)
    return checked


def _put(checked: Checked, place: str, problem: str) -> None:
    """Put a problem at ``place`` (an API's dotted path) beside the form field it is of."""
    parts = [p for p in place.split(".") if p not in ("body", "")]
    name = parts[0] if parts else "form"
    if name == "scope" and len(parts) > 1 and parts[1].isdigit():
        index = int(parts[1])
        if index < len(checked.scope_fields):
            name = checked.scope_fields[index]
            detail = ".".join(p for p in parts[2:] if not p.isdigit() and "[" not in p)
            problem = f"{detail}: {problem}" if detail else problem
    elif checked.one_scope and checked.scope_fields:  # a scope's own body, or its kind
        name = checked.scope_fields[0]
        detail = ".".join(p for p in parts if not p.isdigit())
        problem = f"{detail}: {problem}" if detail else problem
    checked.errors.setdefault(name, _plain(problem))


def _plain(problem: str) -> str:
    # pydantic's union errors name every member tried; the first sentence is enough
    return problem.split("\n")[0]


def decision(form: Form) -> Checked:
    """The regulator-decision form as ``POST /breaches/{id}/regulator-decision``."""
    body: dict[str, Any] = {"decision": text(form, "decision")}
    for name in ("authority", "reason", "delay_reasons"):
        value = text(form, name)
        if value is not None:
            body[name] = value
    reported = instant(text(form, "reported_at"))
    if reported is not None:
        body["reported_at"] = reported
    return Checked({k: v for k, v in body.items() if v is not None})


def announcement(form: Form) -> Checked:
    """The announcement form as ``POST /breaches/{id}/announcement``."""
    body = {
        "text": text(form, "text"),
        "where": text(form, "where"),
        "published_at": instant(text(form, "published_at")),
    }
    return Checked({k: v for k, v in body.items() if v is not None})


def scope(form: Form) -> Checked:
    """The add-a-scope form: exactly one scope."""
    scopes, fields = scopes_of(form)
    if len(scopes) != 1:
        one = "name exactly one scope: people, an organisation, a country or everyone"
        return Checked({}, {"scope_users": one})
    return Checked(scopes[0], scope_fields=fields, one_scope=True)


def local_input(value: datetime | None) -> str:
    """An instant as a ``datetime-local`` input's value (UTC, to the minute)."""
    return "" if value is None else value.strftime("%Y-%m-%dT%H:%M")
