"""The console's pages for the security team (and auditors, who may read breaches):
thin routes that check the role, call one use case, and render or redirect."""

import uuid
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.datastructures import FormData

from client import breach as breach_calls
from services.console import breaches, forms, web
from services.console.bootstrap import runtime_of
from services.console.domain import Section, may
from shared.auth import Principal

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=200, pattern=r"^[^\s\x00]{1,200}$")]
State = Annotated[str, Query(pattern="^(" + "|".join(breaches.PEOPLE_STATES) + ")$")]
BreachId = Annotated[UUID, Path()]
Action = Annotated[str, Path(pattern="^(scope|announcement|decision|close)$")]


def readers(request: Request) -> Principal:
    return web.allowed(request, Section.BREACHES)


def writers(request: Request) -> Principal:
    web.allowed(request, Section.BREACHES)
    return web.allowed(request, Section.BREACH_WRITE)


Reader = Annotated[Principal, Depends(readers)]
Writer = Annotated[Principal, Depends(writers)]
Form = Annotated[FormData, Depends(web.posted)]


def api_of(request: Request) -> Any:
    return runtime_of(request).client(web.token_of(request))


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    principal = web.signed_in(request)
    return web.render(request, "home.html", {"who": principal})


@router.get("/breaches", response_class=HTMLResponse)
async def breach_list(
    request: Request,
    principal: Reader,
    status: Annotated[str | None, Query(pattern="^(open|closed)?$")] = None,
    after: Text = None,
) -> Response:
    limit = runtime_of(request).settings.page_size
    rows, next_after = await breaches.listed(
        api_of(request), status=status or None, after=after, limit=limit
    )
    return web.render(
        request,
        "breaches.html",
        {
            "rows": rows,
            "status": status or "",
            "next_after": next_after,
            "may_declare": may(principal.role, Section.BREACH_WRITE),
        },
    )


def _declare_page(
    request: Request, form: forms.Form, checked: forms.Checked | None, key: str, status: int
) -> Response:
    return web.render(
        request,
        "declare.html",
        {
            "form": form,
            "kinds": forms.values(form, "kinds") if form else [],
            "errors": checked.errors if checked else {},
            "idempotency_key": key,
        },
        status=status,
    )


@router.get("/breaches/new", response_class=HTMLResponse)
async def declare_form(request: Request, _: Writer) -> Response:
    # one key per form shown: a double submit of this form makes one breach
    return _declare_page(request, {}, None, str(uuid.uuid4()), 200)


@router.post("/breaches")
async def declare(request: Request, _: Writer, form: Form) -> Response:
    declared, checked = await breaches.declare(api_of(request), form)
    if declared is None:
        key = forms.text(form, "idempotency_key") or str(uuid.uuid4())
        return _declare_page(request, form, checked, key, 422)
    return web.see_other(f"/breaches/{declared.breach_id}?done=declared")


async def _breach_page(
    request: Request,
    principal: Principal,
    breach_id: UUID,
    *,
    state: str = "pending",
    search: str | None = None,
    after: str | None = None,
    form: forms.Form | None = None,
    errors: dict[str, str] | None = None,
    action: str | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    api = api_of(request)
    settings = runtime_of(request).settings
    detail = await breaches.detail(api, breach_id)
    people = await breaches.people(
        api, breach_id, state=state, search=search, after=after, limit=settings.page_size
    )
    return web.render(
        request,
        "breach.html",
        {
            "d": detail,
            "b": detail.breach,
            "people": people,
            "state": state,
            "states": breaches.PEOPLE_STATES,
            "search": search or "",
            "after": after,
            "form": form or {},
            "errors": errors or {},
            "action": action,
            "done": done,
            "may_act": may(principal.role, Section.BREACH_WRITE),
            "local_input": forms.local_input,
        },
        status=status,
    )


@router.get("/breaches/{breach_id}", response_class=HTMLResponse)
async def breach_page(
    request: Request,
    principal: Reader,
    breach_id: BreachId,
    state: State = "pending",
    q: Text = None,
    after: Cursor = None,
    done: Annotated[str | None, Query(pattern="^[a-z]{1,20}$")] = None,
) -> Response:
    return await _breach_page(
        request, principal, breach_id, state=state, search=q, after=after, done=done
    )


@router.get("/breaches/{breach_id}/progress", response_class=HTMLResponse)
async def progress(request: Request, _: Reader, breach_id: BreachId) -> Response:
    """The counts and the clock alone (htmx refreshes them in place)."""
    detail = await breaches.detail(api_of(request), breach_id)
    return web.render(request, "_progress.html", {"d": detail, "b": detail.breach})


@router.get("/breaches/{breach_id}/people.csv")
async def people_csv(
    request: Request, _: Reader, breach_id: BreachId, state: State = "pending", q: Text = None
) -> Response:
    api = api_of(request)
    await api.send(breach_calls.get(breach_id))  # a 404 or 403 before the stream starts
    body = breaches.people_csv(api, breach_id, state=state, search=q)
    name = f"breach-{breach_id}-{state}.csv"
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/breaches/{breach_id}/{action}")
async def act(
    request: Request, principal: Writer, breach_id: BreachId, action: Action, form: Form
) -> Response:
    checked = await breaches.act(api_of(request), breach_id, action, form)
    if checked.ok:
        return web.see_other(f"/breaches/{breach_id}?done={action}#{action}")
    return await _breach_page(
        request,
        principal,
        breach_id,
        form=form,
        errors=checked.errors,
        action=action,
        status=422,
    )


RECORD_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


@router.get("/breaches/{breach_id}/record", response_class=HTMLResponse)
async def record(request: Request, _: Reader, breach_id: BreachId) -> Response:
    """The printable record for the supervisory authority, as the breach service renders
    it: no script may run in it, its own styles only."""
    page = await api_of(request).send(breach_calls.record_html(breach_id))
    return HTMLResponse(page, headers={"Content-Security-Policy": RECORD_CSP})
