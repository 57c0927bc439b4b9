"""The security team's commands on a breach's notices: who was told, and sending failed
notices again (``privacyctl breach people``, ``privacyctl breach resend``)."""

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from privacyctl.commands.breach import BreachId, app, breach
from privacyctl.core import Cli, Exit, command, fail

MAX_USERS = 100_000
"""People one re-send may name (the breach service's most)."""


@command(app, "people", example="privacyctl breach people 6f1c... --state failed")
def people(
    cli: Cli,
    breach_id: BreachId,
    state: Annotated[
        Literal["pending", "failed", "uncertain", "delivered", "requested"] | None,
        typer.Option(help="pending: neither notified nor covered; or a notice state."),
    ] = None,
) -> None:
    """Each affected person's notice: state, attempts, the mail server's reply."""
    rows = cli.client.pages(breach.people(breach_id, unnotified=state == "pending"))
    if state not in (None, "pending"):
        rows = (p for p in rows if p.state.value == state)
    if cli.json:
        cli.lines(rows)
        return
    cli.table(
        ["user", "state", "attempts", "outcome at", "reply"],
        (
            (p.user_id, p.state.value, p.attempts, p.outcome_at, p.smtp_reply or p.reason)
            for p in rows
        ),
    )


def _named(users: str | None, users_file: Path | None) -> list[str] | None:
    """The user ids given with --users or --users-file (one a line, '-' for stdin)."""
    if users is not None and users_file is not None:
        fail("name the people with --users or --users-file, not both", Exit.USAGE)
    if users_file is not None:
        try:
            text = sys.stdin.read() if str(users_file) == "-" else users_file.read_text()
        except OSError as exc:
            fail(f"cannot read {users_file}: {exc.strerror}", Exit.USAGE)
        named = [line.strip() for line in text.splitlines() if line.strip()]
        if not named:
            fail(f"{users_file} names nobody (one user id a line)", Exit.USAGE)
    elif users is not None:
        named = [u.strip() for u in users.split(",") if u.strip()]
        if not named:
            fail("--users: name at least one user id", Exit.USAGE)
    else:
        return None
    if len(named) > MAX_USERS:
        fail(f"at most {MAX_USERS:,} people at once ({len(named):,} named)", Exit.USAGE)
    return named


@command(
    app,
    "resend",
    example="privacyctl breach resend 6f1c...   (or --users u-17,u-18 after their address "
    "was corrected)",
)
def resend(
    cli: Cli,
    breach_id: BreachId,
    users: Annotated[
        str | None,
        typer.Option(
            help="Only these people (comma-separated), whatever their notice failed of but erasure."
        ),
    ] = None,
    users_file: Annotated[
        Path | None,
        typer.Option(help="Only the people in this file, one user id a line ('-': stdin)."),
    ] = None,
) -> None:
    """Send failed notices again: by default everyone whose notice failed for a temporary
    reason (the mail server was down past the retries); with --users, the people named,
    if their notice failed for any reason but erasure. Each is the same notice again
    (same Message-ID); a notice a mail server accepted is never sent twice."""
    named = _named(users, users_file)
    answer = cli.client.send(breach.resend(breach_id, named))
    if answer.requested:
        cli.say(
            f"asked the notifier again for {answer.requested} notice"
            f"{'' if answer.requested == 1 else 's'}; "
            f"follow them: privacyctl breach people {breach_id} --state requested"
        )
    else:
        cli.say(
            "no notice to send again: "
            + ("none of those named" if named else "nobody's notice")
            + " failed in a way a re-send can mend"
        )
    if answer.not_resent:
        shown = ", ".join(answer.not_resent[:10]) + (", ..." if len(answer.not_resent) > 10 else "")
        cli.say(
            f"not sent again ({len(answer.not_resent)}: their notice did not fail, they were "
            f"erased, or they are not in the breach): {shown}"
        )

    def show() -> None:
        c = answer.counts
        cli.out.print(
            f"{answer.requested} asked for again; now {c.requested} requested, "
            f"{c.delivered} delivered, {c.failed} failed, {c.pending} pending"
        )

    cli.result(answer, show)
