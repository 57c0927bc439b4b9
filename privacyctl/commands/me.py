"""A data subject's commands: what is held about me, my consents, who received my data."""

from typing import TYPE_CHECKING, Any

import typer

from client import audit
from privacyctl import config, lazy
from privacyctl.core import Cli, Exit, command, fail

if TYPE_CHECKING:
    from client import consent, registry
else:  # loaded when a command uses them (privacyctl.lazy)
    consent = lazy.module("client.consent")
    registry = lazy.module("client.registry")

app = typer.Typer(
    help="What the platform holds about you, and who received it.", no_args_is_help=True
)


def _me(cli: Cli) -> str:
    token = cli.profile.token
    user_id = config.claims(token).get("user_id") if token else None
    if not user_id:
        fail(
            "these commands need a data subject's token",
            Exit.AUTH,
            "sign in as yourself: privacyctl login --token <your token>",
        )
    return str(user_id)


@command(app, "data", example="privacyctl me data --json > my-data.json")
def data(cli: Cli) -> None:
    """Everything the registry holds about you (right of access)."""
    document = cli.client.send(registry.access(_me(cli)))
    dumped: dict[str, Any] = document.model_dump(mode="json")

    def show() -> None:
        for section, value in dumped.items():
            if isinstance(value, dict):
                cli.table([section, ""], ((k, v) for k, v in value.items()))
            elif isinstance(value, list):
                cli.out.print(f"{section}: {len(value)}")
            else:
                cli.out.print(f"{section}: {value}")

    cli.result(dumped, show)


@command(app, "consents", example="privacyctl me consents")
def consents(cli: Cli) -> None:
    """Your consents as they stand now."""
    rows = cli.client.send(consent.consents(_me(cli)))
    cli.result(
        rows,
        lambda: cli.table(
            ["consent", "purpose", "organisation", "active", "granted", "withdrawn"],
            (
                (
                    c.consent_id,
                    c.purpose,
                    c.organisation or c.country or "any",
                    c.active,
                    c.granted_at,
                    c.withdrawn_at,
                )
                for c in rows
            ),
        ),
    )


@command(app, "report", example="privacyctl me report")
def report(cli: Cli) -> None:
    """Who received your data, when, which fields and why (and who was refused)."""
    rows = cli.client.pages(audit.subject_report(_me(cli)))
    if cli.json:
        cli.lines(rows)
        return
    cli.table(
        ["when", "organisation", "fields", "purpose", "decision"],
        (
            (
                f"{d.accessed_at:%Y-%m-%d %H:%M}",
                d.organisation_id,
                ",".join(d.fields),
                d.purpose,
                d.decision,
            )
            for d in rows
        ),
    )
