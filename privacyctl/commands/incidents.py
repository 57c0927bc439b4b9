"""The security team's triage: the incidents detection raised, declared as a breach or
dismissed with the reason."""

from typing import Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.table import Table

from client import breach
from client.models.breach import IncidentDeclarationIn, IncidentOut
from privacyctl.core import Cli, Exit, command, fail

app = typer.Typer(
    help="Suspected incidents detection raised: list, show, declare, dismiss.",
    no_args_is_help=True,
)

IncidentId = Annotated[str, typer.Argument(help="The incident's id (incidents list shows them).")]


@command(app, "list", example="privacyctl incidents list --status open")
def list_(
    cli: Cli,
    status: Annotated[
        Literal["open", "declared", "dismissed"] | None,
        typer.Option(help="open, declared or dismissed; default all."),
    ] = None,
) -> None:
    """Incidents, the open ones first; escalated ones are marked."""
    rows = cli.client.send(breach.incidents(status=status)).incidents
    if cli.json:
        cli.result(rows)
        return
    cli.table(
        ["id", "status", "escalated", "organisation", "rules", "alerts", "detected", "summary"],
        (
            (
                i.incident_id,
                i.status.value,
                f"{i.escalated_at:%Y-%m-%d %H:%M}" if i.escalated_at else "",
                i.organisation_id or i.producer or "",
                ", ".join(i.rules),
                i.alerts,
                f"{i.first_detected_at:%Y-%m-%d %H:%M}",
                i.summary,
            )
            for i in rows
        ),
    )


def _render(i: IncidentOut) -> Table:
    table = Table(box=None, show_header=False, title=i.summary, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("status", i.status.value)
    if i.escalated_at:
        table.add_row("escalated", f"{i.escalated_at:%Y-%m-%d %H:%M} UTC (untriaged too long)")
    table.add_row("organisation", i.organisation_id or "-")
    table.add_row("rules", ", ".join(i.rules))
    table.add_row("window", f"{i.window_start:%Y-%m-%d %H:%M:%S} to {i.window_end:%H:%M:%S} UTC")
    table.add_row("categories", ", ".join(i.data_categories) or "-")
    table.add_row("detected", f"{i.first_detected_at:%Y-%m-%d %H:%M:%S} UTC")
    table.add_row("alerts", str(i.alerts))
    if i.decided_at:
        table.add_row("decided", f"{i.decided_at:%Y-%m-%d %H:%M} UTC by {i.decided_by}")
    if i.breach_id:
        table.add_row("breach", str(i.breach_id))
    if i.reason:
        table.add_row("reason", i.reason)
    for alert in i.evidence:
        table.add_row(alert.rule, str(alert.payload.get("summary", "")))
    return table


@command(app, "show", example="privacyctl incidents show 6f1c...")
def show(cli: Cli, incident_id: IncidentId) -> None:
    """One incident: its evidence, alert by alert, and the decision."""
    found = cli.client.send(breach.incident(incident_id))
    cli.result(found, lambda: cli.out.print(_render(found)))


@command(
    app,
    "declare",
    example="privacyctl incidents declare 6f1c... --title ... --what-happened ... "
    "--kind confidentiality --consequences ... --measures ... --advice ... --contact ...",
)
def declare(
    cli: Cli,
    incident_id: IncidentId,
    title: Annotated[str, typer.Option(help="A line naming the breach.")],
    what_happened: Annotated[str, typer.Option(help="What happened, in prose.")],
    kind: Annotated[list[str], typer.Option(help="confidentiality, integrity, availability.")],
    consequences: Annotated[str, typer.Option(help="Its likely consequences.")],
    measures: Annotated[str, typer.Option(help="The measures taken.")],
    advice: Annotated[str, typer.Option(help="What people can do.")],
    contact: Annotated[str, typer.Option(help="The contact point.")],
    category: Annotated[
        list[str] | None,
        typer.Option(help="Replace the incident's data categories (repeatable)."),
    ] = None,
) -> None:
    """Declare a breach from an incident: the scope (its organisation, window and
    categories) and detected_at come from it; aware_at is now."""
    data: dict[str, Any] = {
        "title": title,
        "what_happened": what_happened,
        "kinds": kind,
        "likely_consequences": consequences,
        "measures_taken": measures,
        "what_you_can_do": advice,
        "contact_point": contact,
    }
    if category:
        data["data_categories"] = category
    try:
        body = IncidentDeclarationIn.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        fail(f"invalid input: {where}: {first['msg']}", Exit.USAGE)
    declared = cli.client.send(breach.declare_incident(incident_id, body))
    cli.say(
        f"declared {declared.breach.reference} ({declared.breach.breach_id}); "
        f"next: privacyctl breach show {declared.breach.breach_id} --watch"
    )
    cli.result(declared, lambda: cli.out.print(_render(declared.incident)))


@command(
    app,
    "dismiss",
    example='privacyctl incidents dismiss 6f1c... --reason "An announced penetration test"',
)
def dismiss(
    cli: Cli,
    incident_id: IncidentId,
    reason: Annotated[str, typer.Option(help="Why it is no breach; kept (GDPR Art. 33(5)).")],
) -> None:
    """Dismiss an incident as no breach, with the reason."""
    if not reason.strip():
        fail("invalid input: reason: must say why", Exit.USAGE)
    dismissed = cli.client.send(breach.dismiss_incident(incident_id, reason))
    cli.say(f"dismissed {dismissed.incident_id}")
    cli.result(dismissed, lambda: cli.out.print(_render(dismissed)))
