"""The administrators' pages (organisations and grants) and a data subject's own pages
(who received my data; my consents)."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from services.console import people, web
from services.console.bootstrap import runtime_of
from services.console.domain import Section
from shared.auth import Principal

router = APIRouter(include_in_schema=False)
Slug = Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9._-]{0,100}$")]


def admins(request: Request) -> Principal:
    return web.allowed(request, Section.ADMIN)


def subjects(request: Request) -> Principal:
    return web.allowed(request, Section.ME)


Admin = Annotated[Principal, Depends(admins)]
Subject = Annotated[Principal, Depends(subjects)]
Form = Annotated[FormData, Depends(web.posted)]


def api_of(request: Request) -> Any:
    return runtime_of(request).client(web.token_of(request))


async def _admin_page(
    request: Request,
    template: str,
    organisation: str | None,
    *,
    form: Any = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    status: int = 200,
) -> Response:
    organisations, grants = await people.directory(api_of(request), organisation or None)
    return web.render(
        request,
        template,
        {
            "organisations": organisations,
            "grants": grants,
            "organisation": organisation or "",
            "kinds": people.KINDS,
            "form": form or {},
            "errors": errors or {},
            "done": done,
        },
        status=status,
    )


Done = Annotated[str | None, Query(pattern="^[a-z]{1,20}$")]


@router.get("/admin/organisations", response_class=HTMLResponse)
async def organisations(request: Request, _: Admin, done: Done = None) -> Response:
    return await _admin_page(request, "organisations.html", None, done=done)


@router.post("/admin/organisations")
async def add_organisation(request: Request, _: Admin, form: Form) -> Response:
    checked = await people.add_organisation(api_of(request), form)
    if checked.ok:
        return web.see_other("/admin/organisations?done=added")
    return await _admin_page(
        request, "organisations.html", None, form=form, errors=checked.errors, status=422
    )


@router.get("/admin/grants", response_class=HTMLResponse)
async def grants(
    request: Request, _: Admin, organisation: Slug = None, done: Done = None
) -> Response:
    return await _admin_page(request, "grants.html", organisation, done=done)


@router.post("/admin/grants")
async def add_grant(request: Request, _: Admin, form: Form) -> Response:
    checked = await people.add_grant(api_of(request), form, people.now())
    if checked.ok:
        return web.see_other("/admin/grants?done=granted")
    return await _admin_page(
        request, "grants.html", None, form=form, errors=checked.errors, status=422
    )


@router.post("/admin/grants/{grant_id}/revoke")
async def revoke(
    request: Request, _: Admin, grant_id: Annotated[UUID, Path()], form: Form
) -> Response:
    await people.revoke_grant(api_of(request), grant_id)
    return web.see_other("/admin/grants?done=revoked")


@router.get("/me", response_class=HTMLResponse)
async def my_data(
    request: Request,
    principal: Subject,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> Response:
    assert principal.user_id is not None
    rows, notices, next_cursor = await people.my_data(
        api_of(request),
        principal.user_id,
        cursor=cursor,
        limit=runtime_of(request).settings.page_size,
    )
    return web.render(
        request,
        "me.html",
        {"rows": rows, "notices": notices, "next_cursor": next_cursor, "cursor": cursor},
    )


@router.get("/me/consents", response_class=HTMLResponse)
async def my_consents(request: Request, principal: Subject) -> Response:
    assert principal.user_id is not None
    consents = await people.my_consents(api_of(request), principal.user_id)
    return web.render(request, "consents.html", {"consents": consents})
