"""The log's bulk reads as plain Starlette routes: tiles, entry bundles and ``GET /entries``.

A monitor reads a log of a million entries as 4,000 bundles and as many hash tiles, so
what a request costs besides its data decides how fast it can: FastAPI's dependencies
and validation, and the OpenTelemetry middleware's span, cost several times the data's
own work on a bundle. These routes are placed ahead of the documented FastAPI routes in
``api.py`` (which then only describe them in the OpenAPI document, as the consent
service's decisions are), check the caller and their input the same way, answer the
same errors, and are left out of tracing (``main.UNTRACED``). A full tile never
changes, so its bytes are kept (``tiles.FullTiles``) and a second read costs no query.
"""

from typing import Annotated

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.routing import Route

from services.audit import tiles
from services.audit.bootstrap import AuditRuntime
from shared.app import current_runtime
from shared.auth import Role, principal_from_request
from shared.validation import BIGINT_MAX

TEXT_PLAIN = "text/plain; charset=utf-8"
OCTETS = "application/octet-stream"
JSON_LINES = "application/x-ndjson"
YEAR = 31_536_000
TILE_PATH_MAX = 200
"""The longest path after ``/tile/`` read (a tile's is at most 40 characters)."""


def log_reader(request: Request, *roles: Role) -> AuditRuntime:
    """The runtime, once the caller may read the log as tiles: anyone when the operator
    made the tiles public, else a token of one of ``roles``."""
    runtime = current_runtime(request, AuditRuntime)
    if not runtime.settings.tiles_public:
        principal_from_request(request, *roles)
    return runtime


def cache_control(runtime: AuditRuntime, seconds: int, *, immutable: bool = False) -> str:
    """A shared cache may keep what anyone may read; what needs a token stays private."""
    scope = "public" if runtime.settings.tiles_public else "private"
    return f"{scope}, max-age={seconds}" + (", immutable" if immutable else "")


def _invalid(place: str, name: str, kind: str, message: str, value: object) -> Exception:
    return RequestValidationError(
        [{"type": kind, "loc": (place, name), "msg": message, "input": value}]
    )


async def tile(request: Request) -> Response:
    """A hash tile or an entry bundle (c2sp.org/tlog-tiles)."""
    runtime = log_reader(request, Role.AUDITOR, Role.ADMIN)
    path: str = request.path_params["tile_path"]
    if len(path) > TILE_PATH_MAX:
        raise _invalid(
            "path",
            "tile_path",
            "string_too_long",
            f"String should have at most {TILE_PATH_MAX} characters",
            path,
        )
    if "\x00" in path:
        raise _invalid(
            "path", "tile_path", "string_pattern_mismatch", "must not hold a NUL character", path
        )
    wanted = tiles.parse(path)
    data = await tiles.read(runtime.sessions, wanted, runtime.signed_size, runtime.full_tiles)
    cache = (
        cache_control(runtime, YEAR, immutable=True) if wanted.full else cache_control(runtime, 60)
    )
    return Response(data, media_type=OCTETS, headers={"Cache-Control": cache})


class BulkRange(BaseModel):
    """The query of ``GET /entries``."""

    start: Annotated[int, Field(ge=0, le=BIGINT_MAX)]
    end: Annotated[int, Field(ge=1, le=BIGINT_MAX)]


async def entries(request: Request) -> StreamingResponse:
    """Entries ``start`` to ``end`` streamed, each line one entry's exact leaf data."""
    principal_from_request(request, Role.AUDITOR, Role.ADMIN)
    try:
        wanted = BulkRange.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from exc
    runtime = current_runtime(request, AuditRuntime)
    body = await tiles.entries(runtime.sessions, wanted.start, wanted.end)
    return StreamingResponse(body, media_type=JSON_LINES)


ROUTES = [
    Route("/tile/{tile_path:path}", tile, methods=["GET"], include_in_schema=False),
    Route("/entries", entries, methods=["GET"], include_in_schema=False),
]
"""Put ahead of the documented routes (``api.router``)."""
UNTRACED = [r"/tile/", r"/entries(\?|$)"]
"""Paths the OpenTelemetry middleware leaves alone (regular expressions on the URL)."""
