"""What every command shares: options, output, the client, and errors as exit codes.

Output follows clig.dev: results on stdout (a table for a person, one JSON document or
JSON lines with ``--json``), messages on stderr, colour only on a terminal (and never
with ``NO_COLOR``), and one sentence naming what failed and what to do, never a
traceback.
"""

import functools
import inspect
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Annotated, Any, NoReturn, TypeVar

import httpx
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from client import (
    ApiError,
    Client,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    ServerError,
    Unauthorized,
    Unavailable,
)
from privacyctl import config, oidc


class Exit(IntEnum):
    """The exit codes, documented in ``privacyctl --help`` and docs/cli.md."""

    OK = 0
    FAILED = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    CONFLICT = 5
    UNAVAILABLE = 6
    INTERRUPTED = 130


EXIT_MEANINGS = {
    Exit.OK: "done",
    Exit.FAILED: "a check failed (log verify, log proof), or another refusal",
    Exit.USAGE: "a command, option or value that is not right, also a 400 or 422 naming a field",
    Exit.AUTH: "no token, an expired one, or a role that may not do this (401, 403)",
    Exit.NOT_FOUND: "nothing there (404, 410)",
    Exit.CONFLICT: "the request clashes with the state (409: a breach not ready to close ...)",
    Exit.UNAVAILABLE: "a service did not answer, broke off, or failed (connection, timeout, 5xx)",
    Exit.INTERRUPTED: "interrupted (Ctrl-C)",
}
EXIT_CODES_HELP = "Exit codes: " + ", ".join(f"{e.value} {e.name.lower()}" for e in Exit) + "."


class Failure(Exception):
    """A command's own failure: one sentence, a hint, an exit code."""

    def __init__(self, message: str, code: Exit = Exit.FAILED, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.hint = hint


@dataclass
class Cli:
    """One invocation: its options, output and client."""

    json: bool = False
    quiet: bool = False
    profile_name: str = config.DEFAULT_PROFILE
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )
    _client: Client | None = None

    @property
    def profile(self) -> config.Profile:
        """The profile named by ``--profile`` (with the environment's token); a provider's
        token about to expire is renewed first with the profile's refresh token."""
        profile = config.load(self.profile_name)
        if (
            profile.issuer
            and profile.refresh_token
            and profile.token
            and not os.environ.get("PRIVACYCTL_TOKEN")
            and config.expired(profile.token, now=NOW() + oidc.REFRESH_MARGIN_SECONDS)
        ):
            profile = self._renewed(profile)
        return profile

    def _renewed(self, profile: config.Profile) -> config.Profile:
        assert profile.issuer and profile.refresh_token
        with httpx.Client(timeout=10, transport=OIDC_TRANSPORT) as http:
            try:
                answer = oidc.refresh(
                    http, profile.issuer, profile.client_id, profile.refresh_token
                )
            except oidc.ProviderError as exc:
                fail(
                    f"the session has expired and could not be renewed: {exc}",
                    Exit.UNAVAILABLE if exc.unavailable else Exit.AUTH,
                    "sign in again with 'privacyctl login'",
                )
        profile.token = str(answer["access_token"])
        profile.refresh_token = answer.get("refresh_token") or profile.refresh_token
        config.save(self.profile_name, profile)
        self.say(f"renewed the session of profile '{self.profile_name}' with {profile.issuer}")
        return profile

    @property
    def client(self) -> Client:
        """The services' client, made on first use."""
        if self._client is None:
            profile = self.profile
            self._client = Client(profile.service_urls(), token=profile.token, transport=TRANSPORT)
        return self._client

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()

    def say(self, message: str) -> None:
        """A message for a person, on stderr, unless ``--quiet``."""
        if not self.quiet:
            self.err.print(message)

    def result(self, value: Any, human: Callable[[], object] | None = None) -> None:
        """The command's result: one JSON document with ``--json``, else ``human()``."""
        if self.json or human is None:
            sys.stdout.write(json.dumps(plain(value), indent=2, sort_keys=True) + "\n")
        else:
            human()

    def lines(self, values: Iterable[Any]) -> int:
        """JSON lines, one value a line (``--json`` of a list that may be long)."""
        count = 0
        for value in values:
            sys.stdout.write(json.dumps(plain(value), sort_keys=True) + "\n")
            count += 1
        return count

    def table(
        self, columns: list[str], rows: Iterable[Iterable[Any]], title: str | None = None
    ) -> int:
        """Rows as a table for a person; returns how many."""
        table = Table(*columns, title=title, box=None, header_style="bold")
        count = 0
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
            count += 1
        self.out.print(table)
        return count


TRANSPORT: Any = None
"""Tests put an ``httpx.MockTransport`` here to fake the HTTP layer."""
OIDC_TRANSPORT: Any = None
"""The same for the OpenID provider's token endpoint (renewing a session)."""
NOW: Callable[[], float] = time.time
"""Seconds since the epoch, as tokens' ``exp`` counts them; tests move it."""


def plain(value: Any) -> Any:
    """JSON-ready data of models, lists and dicts."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def api_failure(exc: ApiError) -> Failure:
    """The sentence, hint and exit code for an API error."""
    what = str(exc)
    if isinstance(exc, Unauthorized):
        return Failure(
            f"not signed in: {what}",
            Exit.AUTH,
            "sign in again with 'privacyctl login' (or set PRIVACYCTL_TOKEN)",
        )
    if isinstance(exc, Forbidden):
        return Failure(f"refused: {what}", Exit.AUTH, "'privacyctl whoami' shows your role")
    if isinstance(exc, NotFound):
        return Failure(
            f"not found: {what}", Exit.NOT_FOUND, "check the id (list commands show them)"
        )
    if isinstance(exc, Conflict):
        return Failure(f"refused: {what}", Exit.CONFLICT)
    if isinstance(exc, Invalid):
        problems = "; ".join(f"{p.get('field')}: {p.get('problem')}" for p in exc.problems)
        return Failure(
            f"invalid input: {what}" + (f" ({problems})" if problems else ""), Exit.USAGE
        )
    if isinstance(exc, Unavailable):
        return Failure(
            f"{what}",
            Exit.UNAVAILABLE,
            "is the stack running? ('make status'); the profile's URLs: 'privacyctl whoami'",
        )
    if isinstance(exc, ServerError):
        return Failure(
            f"the service failed: {what}", Exit.UNAVAILABLE, "try again; the service's log says why"
        )
    return Failure(f"the service refused: {what}", Exit.FAILED)


def fail(message: str, code: Exit = Exit.FAILED, hint: str | None = None) -> NoReturn:
    """Stop the command with one sentence and an exit code."""
    raise Failure(message, code, hint)


def _report(cli: Cli, failure: Failure) -> NoReturn:
    cli.err.print(f"[red]error:[/red] {failure}", markup=True, highlight=False)
    if failure.hint:
        cli.err.print(f"  {failure.hint}")
    raise typer.Exit(int(failure.code))


JsonOption = Annotated[
    bool, typer.Option("--json", help="One JSON document (or JSON lines) on stdout, nothing else.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No messages on stderr.")]
ProfileOption = Annotated[
    str,
    typer.Option("--profile", "-p", envvar="PRIVACYCTL_PROFILE", help="The profile to use."),
]

F = TypeVar("F", bound=Callable[..., Any])


def command(
    group: typer.Typer, name: str | None, *, example: str, callback: bool = False
) -> Callable[[F], F]:
    """Register ``fn(cli, ...)`` as ``name`` of ``group``: adds ``--json``, ``--quiet``
    and ``--profile``, puts ``example`` in its help, and turns errors into exit codes.

    With ``callback``, ``fn`` is what the group itself does when no subcommand is named
    (``privacyctl trail --organisation x``); its subcommands still take their own options.
    """

    def wrap(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "cli"]
        extra = [
            inspect.Parameter(
                "json_output", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOption
            ),
            inspect.Parameter(
                "quiet", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=QuietOption
            ),
            inspect.Parameter(
                "profile",
                inspect.Parameter.KEYWORD_ONLY,
                default=config.DEFAULT_PROFILE,
                annotation=ProfileOption,
            ),
        ]

        if callback:
            extra.insert(
                0,
                inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
            )

        @functools.wraps(fn)
        def run(*args: Any, json_output: bool, quiet: bool, profile: str, **kwargs: Any) -> Any:
            context = kwargs.pop("ctx", None)
            if context is not None and context.invoked_subcommand is not None:
                return None  # a subcommand was named: it does the work
            cli = Cli(json=json_output, quiet=quiet, profile_name=profile)
            try:
                return fn(cli, *args, **kwargs)
            except ApiError as exc:
                _report(cli, api_failure(exc))
            except Failure as exc:
                _report(cli, exc)
            except KeyboardInterrupt:
                _report(cli, Failure("interrupted", Exit.INTERRUPTED))
            finally:
                cli.close()

        parameters = [*own, *extra]
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        doc = inspect.getdoc(fn) or ""
        if callback:
            group.callback(invoke_without_command=True, help=doc, epilog=f"Example:  {example}")(
                run
            )
        else:
            group.command(name, help=doc, epilog=f"Example:  {example}")(run)
        return fn

    return wrap
