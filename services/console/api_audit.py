"""The auditors' pages: the access trail, its export, an entry checked against the signed
log, violations, overdue recipient requests, the log's latest signed head."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from client.log import head_signed
from services.console import trail, web
from services.console.bootstrap import runtime_of
from services.console.domain import Section
from shared.auth import Principal

router = APIRouter(include_in_schema=False)
Cursor = Annotated[int | None, Query(ge=0, le=2**63 - 1)]
Seq = Annotated[int, Path(ge=0, le=2**63 - 1)]


def auditors(request: Request) -> Principal:
    return web.allowed(request, Section.TRAIL)


Auditor = Annotated[Principal, Depends(auditors)]


def api_of(request: Request) -> Any:
    return runtime_of(request).client(web.token_of(request))


@router.get("/trail", response_class=HTMLResponse)
async def trail_page(request: Request, _: Auditor, cursor: Cursor = None) -> Response:
    wanted = trail.Filter.of(request.query_params)
    problems = trail.problems(wanted)
    page = trail.Page([], None)
    if not problems:
        page = await trail.page(
            api_of(request), wanted, cursor=cursor, limit=runtime_of(request).settings.page_size
        )
    return web.render(
        request,
        "trail.html",
        {
            "f": wanted,
            "page": page,
            "errors": problems,
            "cursor": cursor,
            "query": web.query(**wanted.query()),
            "decisions": trail.DECISIONS,
            "legal_bases": trail.LEGAL_BASES,
        },
        status=422 if problems else 200,
    )


@router.get("/trail/export.{fmt}")
async def export(
    request: Request, _: Auditor, fmt: Annotated[Literal["csv", "jsonl"], Path()]
) -> Response:
    wanted = trail.Filter.of(request.query_params)
    problems = trail.problems(wanted)
    if problems:
        field, problem = next(iter(problems.items()))
        return web.error_page(request, 422, "Filter refused", f"{field}: {problem}")
    api = api_of(request)
    # the audit service's own export of the same filter, streamed through as it comes
    stream = trail.export(api, wanted, fmt)
    first = await anext(stream, b"")  # its refusal (403, 422) is a page, not a cut-off file

    async def body() -> Any:
        yield first
        async for chunk in stream:
            yield chunk

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    return StreamingResponse(
        body(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="trail-{stamp}.{fmt}"'},
    )


@router.get("/trail/entries/{seq}", response_class=HTMLResponse)
async def entry_page(
    request: Request,
    _: Auditor,
    seq: Seq,
    verify: Annotated[str | None, Query(pattern="^1?$")] = None,
) -> Response:
    settings = runtime_of(request).settings
    found = await trail.entry(api_of(request), seq, settings.audit_public_key, check=bool(verify))
    return web.render(request, "entry.html", {"e": found, "verify": bool(verify)})


@router.get("/violations", response_class=HTMLResponse)
async def violations(request: Request, _: Auditor, cursor: Cursor = None) -> Response:
    page = await trail.violations(
        api_of(request), cursor=cursor, limit=runtime_of(request).settings.page_size
    )
    return web.render(request, "violations.html", {"page": page, "cursor": cursor})


@router.get("/recipient-requests", response_class=HTMLResponse)
async def overdue(
    request: Request, _: Auditor, cursor: Annotated[str | None, Query(pattern=r"^\d{1,19}$")] = None
) -> Response:
    rows, next_cursor = await trail.overdue(
        api_of(request), cursor=cursor, limit=runtime_of(request).settings.page_size
    )
    return web.render(
        request, "overdue.html", {"rows": rows, "next_cursor": next_cursor, "cursor": cursor}
    )


@router.get("/log", response_class=HTMLResponse)
async def log_head(request: Request, _: Auditor) -> Response:
    settings = runtime_of(request).settings
    head, key, source = await trail.signed_head(api_of(request), settings.audit_public_key)
    return web.render(
        request,
        "log.html",
        {"head": head, "key": key, "source": source, "signed": head_signed(head, key)},
    )
