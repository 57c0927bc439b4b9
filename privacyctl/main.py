"""``privacyctl``: every role's work from a terminal, on the services' typed client.

A command per noun and verb (``privacyctl breach show``), a table for people and
``--json`` for scripts, messages on stderr, exit codes that mean something.
"""

import typer

from privacyctl.commands import (
    admin,
    audit,
    breach,
    breach_notices,  # noqa: F401 - adds people and resend to breach
    incidents,
    me,
    session,
)
from privacyctl.core import EXIT_CODES_HELP

app = typer.Typer(
    name="privacyctl",
    help="Every role's work on the privacy-events stack, from a terminal.\n\n" + EXIT_CODES_HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
app.add_typer(session.root)
app.add_typer(audit.root)
app.add_typer(breach.app, name="breach")
app.add_typer(incidents.app, name="incidents")
app.add_typer(audit.trail_app, name="trail")
app.add_typer(audit.recipients_app, name="recipients")
app.add_typer(audit.log_app, name="log")
app.add_typer(admin.orgs, name="org")
app.add_typer(admin.grants, name="grant")
app.add_typer(session.app, name="token")
app.add_typer(me.app, name="me")


def run() -> None:
    """The console script's entry point."""
    app()


if __name__ == "__main__":
    run()
