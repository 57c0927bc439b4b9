"""Every error a service answers, in the one shape of ``shared/errors.py``."""

from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import ServiceError, error_body


def document_errors_as_json(app: FastAPI) -> None:
    """Errors are JSON on every route: FastAPI documents a route's extra responses in the
    route's own media type (text/html for a page, text/csv for an export), so move them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if str(status).startswith(("4", "5")) and "application/json" not in content:
                            for media in list(content):
                                content["application/json"] = content.pop(media)
                                break
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    """Map service errors, HTTP errors, unstorable text and invalid requests to the shape."""

    @app.exception_handler(ServiceError)
    async def on_service_error(_: Request, exc: ServiceError) -> JSONResponse:
        body = error_body(type(exc).__name__, exc.message, field=exc.field, **exc.extra)
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Authentication (401, 403) and routing (404, 405) errors, in the same shape.
        try:
            name = HTTPStatus(exc.status_code).phrase.title().replace(" ", "")
        except ValueError:
            name = "HTTPError"
        return JSONResponse(
            error_body(name, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DBAPIError)
    async def on_unstorable_text(request: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL text cannot hold NUL; a value that slipped past validation with one
        # is the caller's mistake, not a server error.
        if isinstance(exc.orig, asyncpg.exceptions.CharacterNotInRepertoireError) or (
            "\\x00" in str(exc.orig) or "0x00" in str(exc.orig)
        ):
            body = error_body("InvalidRequest", "a value contains a NUL character")
            return JSONResponse(body, status_code=422)
        raise exc

    @app.exception_handler(RequestValidationError)
    async def on_invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in err["loc"] if p != "body"),
                "problem": err["msg"],
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        field = problems[0]["field"] if problems else None
        message = f"{field}: {problems[0]['problem']}" if problems else "invalid request"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more)"
        body = error_body("InvalidRequest", message, field=field or None, problems=problems)
        return JSONResponse(body, status_code=422)
