"""The security team's commands: a breach from declaration to closing."""

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from pydantic import ValidationError
from rich.live import Live
from rich.table import Table

from client import Conflict
from privacyctl import lazy
from privacyctl.core import Cli, Exit, command, fail

if TYPE_CHECKING:
    import yaml

    from client import breach
    from client.models import breach as models
else:  # loaded when a command uses them (privacyctl.lazy)
    yaml = lazy.module("yaml")
    breach = lazy.module("client.breach")
    models = lazy.module("client.models.breach")

app = typer.Typer(
    help="Breaches: declare, follow, widen, announce, decide, close.", no_args_is_help=True
)
scope_app = typer.Typer(help="A breach's scope: who is affected.", no_args_is_help=True)
app.add_typer(scope_app, name="scope")

BreachId = Annotated[str, typer.Argument(help="The breach's id (breach list shows them).")]


def _model(kind: Any, data: dict[str, Any], what: str) -> Any:
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or what
        fail(
            f"invalid input: {where}: {first['msg']}",
            Exit.USAGE,
            f"see 'privacyctl breach {what} --help'",
        )


def _left(seconds: int) -> str:
    if seconds < 0:
        return f"deadline passed {timedelta(seconds=-seconds)} ago"
    return f"{timedelta(seconds=seconds)} left"


@command(
    app,
    "declare",
    example="privacyctl breach declare --file breach.yaml   "
    "(or --title ... --what-happened ... --kind confidentiality --category email_address ...)",
)
def declare(
    cli: Cli,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="The declaration as YAML or JSON (fields of POST /breaches)."
        ),
    ] = None,
    title: Annotated[str | None, typer.Option(help="A line naming the breach.")] = None,
    what_happened: Annotated[str | None, typer.Option(help="What happened, in prose.")] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(help="confidentiality, integrity, availability (repeatable)."),
    ] = None,
    detected_at: Annotated[
        str | None, typer.Option(help="When it was detected (ISO 8601); default now.")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="A data category affected (repeatable).")
    ] = None,
    consequences: Annotated[str | None, typer.Option(help="Its likely consequences.")] = None,
    measures: Annotated[str | None, typer.Option(help="The measures taken.")] = None,
    advice: Annotated[str | None, typer.Option(help="What people can do.")] = None,
    contact: Annotated[str | None, typer.Option(help="The contact point.")] = None,
    users: Annotated[str | None, typer.Option(help="Affected user ids, comma-separated.")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Default: a fresh key for this invocation, reused on retry.")
    ] = None,
) -> None:
    """Declare a breach; the 72-hour clock runs from awareness. Retried after no answer
    with the same Idempotency-Key, so a declaration is never made twice."""
    data: dict[str, Any] = {}
    if file is not None:
        try:
            text = file.read_text()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror}", Exit.USAGE)
        try:
            loaded = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            fail(
                f"{file} is not valid {'JSON' if file.suffix == '.json' else 'YAML'}: {exc}",
                Exit.USAGE,
            )
        if not isinstance(loaded, dict):
            fail(f"{file} must hold one mapping of the declaration's fields", Exit.USAGE)
        data.update(loaded)
    flags = {
        "title": title,
        "what_happened": what_happened,
        "kinds": kind,
        "detected_at": detected_at,
        "data_categories": category,
        "likely_consequences": consequences,
        "measures_taken": measures,
        "what_you_can_do": advice,
        "contact_point": contact,
    }
    data.update({k: v for k, v in flags.items() if v})
    data.setdefault("detected_at", datetime.now(UTC).isoformat())
    if users:
        data.setdefault("scope", []).append(
            {"kind": "users", "user_ids": [u.strip() for u in users.split(",") if u.strip()]}
        )
    declaration = _model(models.DeclarationIn, data, "declare")
    key = idempotency_key or f"privacyctl-{uuid.uuid4()}"
    declared = cli.client.send(breach.declare(declaration, idempotency_key=key))
    cli.say(
        f"declared {declared.reference} ({declared.breach_id}); "
        f"next: privacyctl breach show {declared.breach_id} --watch"
    )
    cli.result(declared, lambda: _show(cli, declared))


@command(app, "list", example="privacyctl breach list --status open")
def list_(
    cli: Cli,
    status: Annotated[
        Literal["open", "closed"] | None, typer.Option(help="open or closed; default both.")
    ] = None,
) -> None:
    """Breaches, newest first, with the time left on each clock."""
    rows = cli.client.pages(breach.breaches(status=status))
    if cli.json:
        cli.result(list(rows))
        return
    cli.table(
        ["id", "reference", "status", "affected", "pending", "time left", "title"],
        (
            (
                b.breach_id,
                b.reference,
                b.status.value,
                b.affected,
                b.pending,
                _left(b.seconds_left),
                b.title,
            )
            for b in rows
        ),
    )


def _render(b: "models.BreachOut") -> Table:
    table = Table(
        box=None, show_header=False, title=f"{b.reference}: {b.title}", title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column()
    c = b.counts
    clock = f"deadline {b.deadline_at:%Y-%m-%d %H:%M} UTC"
    if b.status.value == "open":
        clock += f" ({_left(b.seconds_left)})"
    table.add_row("status", b.status.value)
    table.add_row("clock", clock)
    table.add_row("affected", str(c.affected))
    table.add_row("notified", f"{c.notified} ({c.delivered} delivered, {c.uncertain} uncertain)")
    table.add_row("failed", str(c.failed))
    table.add_row("requested", str(c.requested))
    table.add_row(
        "unreachable", f"{c.unreachable} ({c.covered_by_announcement} covered by announcement)"
    )
    table.add_row("pending", str(c.pending))
    table.add_row("scopes resolving", str(b.scopes_resolving))
    decision = b.regulator_decision
    table.add_row("regulator", decision.decision.value if decision else "not decided")
    table.add_row(
        "announcement",
        "recorded" if b.announcement else ("required" if b.announcement_required else "-"),
    )
    return table


def _show(cli: Cli, b: "models.BreachOut", owed: "models.ObligationsOut | None" = None) -> None:
    cli.out.print(_render(b))
    if owed is not None:
        cli.out.print(_obligations(owed))


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"


def _obligations(owed: "models.ObligationsOut") -> Table:
    table = Table(title="obligations, regime by regime", title_justify="left")
    for column in ("regime", "requirement", "clock", "deadline"):
        table.add_column(column)
    for o in owed.obligations:
        clock = o.anchor.replace("_", " ")
        table.add_row(
            f"{o.regime} {o.recipient.value}",
            f"{o.requirement.value.replace('_', ' ')}, {o.state.value.replace('_', ' ')}"
            f"\n{o.reason}",
            f"from {clock}\n{_when(o.anchor_at) if o.anchor_at else '(waiting)'}",
            _when(o.deadline_at) if o.deadline_at else o.deadline_rule.replace("_", " "),
        )
    for w in owed.without_duty:
        table.add_row(w.regime, "no duty to notify", "-", "-")
    disclaimers = sorted({o.disclaimer for o in owed.obligations})
    table.caption = " ".join(disclaimers) if disclaimers else None
    table.caption_justify = "left"
    return table


@command(app, "show", example="privacyctl breach show 6f1c... --watch")
def show(
    cli: Cli,
    breach_id: BreachId,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh until closed (Ctrl-C stops).")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes with --watch.")] = 2.0,
) -> None:
    """One breach: its counts, the time left, the decisions."""
    b = cli.client.send(breach.get(breach_id))
    if not watch:
        owed = None if cli.json else cli.client.send(breach.obligations(breach_id))
        cli.result(b, lambda: _show(cli, b, owed))
        return
    if cli.json:  # a JSON line each refresh
        while True:
            cli.lines([b])
            if b.status.value == "closed":
                return
            time.sleep(interval)
            b = cli.client.send(breach.get(breach_id))
    try:
        with Live(_render(b), console=cli.out, auto_refresh=False) as live:
            while b.status.value != "closed":
                time.sleep(interval)
                b = cli.client.send(breach.get(breach_id))
                live.update(_render(b), refresh=True)
    except KeyboardInterrupt:
        return


@command(
    scope_app,
    "add",
    example="privacyctl breach scope add 6f1c... --organisation ph-philexport "
    "--since 2026-01-01 --until 2026-02-01",
)
def scope_add(
    cli: Cli,
    breach_id: BreachId,
    users: Annotated[str | None, typer.Option(help="User ids, comma-separated.")] = None,
    organisation: Annotated[
        str | None, typer.Option(help="Everyone whose data reached it...")
    ] = None,
    since: Annotated[str | None, typer.Option(help="...from (ISO 8601)...")] = None,
    until: Annotated[str | None, typer.Option(help="...until (ISO 8601).")] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Only these data categories (repeatable).")
    ] = None,
    country: Annotated[
        str | None, typer.Option(help="Everyone living in this country (ISO code).")
    ] = None,
    everyone: Annotated[bool, typer.Option("--everyone", help="Every registered person.")] = False,
) -> None:
    """Widen the scope: the new people get notices, nobody a second one."""
    given = [users is not None, organisation is not None, country is not None, everyone]
    if sum(given) != 1:
        fail("name exactly one of --users, --organisation, --country, --everyone", Exit.USAGE)
    spec: dict[str, Any]
    if users is not None:
        spec = {"kind": "users", "user_ids": [u.strip() for u in users.split(",") if u.strip()]}
    elif organisation is not None:
        spec = {
            "kind": "organisation",
            "organisation": organisation,
            "since": since,
            "until": until,
        }
        if category:
            spec["data_categories"] = category
    elif country is not None:
        spec = {"kind": "country", "country": country}
    else:
        spec = {"kind": "everyone"}
    added = cli.client.send(breach.add_scope(breach_id, _model(models.Scope, spec, "scope add")))
    cli.say(f"scope {added.scope_id} added; it is resolved in the background")
    cli.result(
        added,
        lambda: cli.out.print(f"scope {added.scope_id}: {added.kind}, {added.found} found so far"),
    )


@command(
    app,
    "announce",
    example='privacyctl breach announce 6f1c... --text "..." --where https://example.org/notice',
)
def announce(
    cli: Cli,
    breach_id: BreachId,
    text: Annotated[str, typer.Option(help="The announcement's text.")],
    where: Annotated[str, typer.Option(help="Where it was published.")],
    published_at: Annotated[str | None, typer.Option(help="When (ISO 8601); default now.")] = None,
) -> None:
    """Record the public announcement that covers the people who cannot be reached."""
    body = _model(
        models.AnnouncementIn,
        {
            "text": text,
            "where": where,
            "published_at": published_at or datetime.now(UTC).isoformat(),
        },
        "announce",
    )
    b = cli.client.send(breach.announce(breach_id, body))
    cli.result(b, lambda: _show(cli, b))


@command(
    app,
    "decide",
    example='privacyctl breach decide 6f1c... --report --authority "National Privacy Commission"',
)
def decide(
    cli: Cli,
    breach_id: BreachId,
    report: Annotated[
        bool, typer.Option("--report/--not-report", help="Whether the authority is told.")
    ],
    authority: Annotated[str | None, typer.Option(help="The supervisory authority told.")] = None,
    reported_at: Annotated[
        str | None, typer.Option(help="When it was told (ISO 8601); default now.")
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="Why not (required with --not-report).")
    ] = None,
    delay_reasons: Annotated[
        str | None, typer.Option(help="Why later than 72 hours, if it was.")
    ] = None,
) -> None:
    """Record whether the supervisory authority is told, and why (GDPR Art. 33(5))."""
    data: dict[str, Any] = {"decision": "report" if report else "not_report"}
    if report:
        data["reported_at"] = reported_at or datetime.now(UTC).isoformat()
    for name, value in (
        ("authority", authority),
        ("reason", reason),
        ("delay_reasons", delay_reasons),
    ):
        if value:
            data[name] = value
    b = cli.client.send(breach.decide(breach_id, _model(models.DecisionIn, data, "decide")))
    cli.result(b, lambda: _show(cli, b))


@command(
    app,
    "assess",
    example="privacyctl breach assess 6f1c... --finding significant_harm --text "
    '"Names and emails of 600 people; phishing likely."',
)
def assess(
    cli: Cli,
    breach_id: BreachId,
    text: Annotated[str, typer.Option(help="The assessment as kept on file.")],
    finding: Annotated[
        list[str] | None,
        typer.Option(
            help="A trigger it found met: risk, high_risk, significant_harm, serious_harm "
            "(repeat; none: no risk found)."
        ),
    ] = None,
    sensitive: Annotated[
        bool, typer.Option(help="Sensitive data (or data enabling identity fraud) involved.")
    ] = False,
    concluded_at: Annotated[
        str | None, typer.Option(help="When it concluded (ISO 8601); default now.")
    ] = None,
) -> None:
    """Record the risk assessment's conclusion; the obligations are derived again."""
    data: dict[str, Any] = {
        "concluded_at": concluded_at or datetime.now(UTC).isoformat(),
        "findings": finding or [],
        "sensitive": sensitive,
        "text": text,
    }
    owed = cli.client.send(breach.assess(breach_id, _model(models.AssessmentIn, data, "assess")))
    cli.result(owed, lambda: cli.out.print(_obligations(owed)))


@command(
    app,
    "regulator-told",
    example="privacyctl breach regulator-told 6f1c... --regime sg --reference PDPC-2031-0042",
)
def regulator_told(
    cli: Cli,
    breach_id: BreachId,
    regime: Annotated[str, typer.Option(help="The regime whose regulator was told (sg, th...).")],
    notified_at: Annotated[
        str | None, typer.Option(help="When it was told (ISO 8601); default now.")
    ] = None,
    reference: Annotated[str | None, typer.Option(help="The regulator's reference.")] = None,
    delay_reasons: Annotated[
        str | None, typer.Option(help="Why after the deadline, if it was.")
    ] = None,
) -> None:
    """Record that a regime's regulator was told: its obligation is met, or late."""
    data: dict[str, Any] = {"notified_at": notified_at or datetime.now(UTC).isoformat()}
    for name, value in (("reference", reference), ("delay_reasons", delay_reasons)):
        if value:
            data[name] = value
    notice = _model(models.RegulatorNoticeIn, data, "regulator-told")
    owed = cli.client.send(breach.regulator_told(breach_id, regime, notice))
    cli.result(owed, lambda: cli.out.print(_obligations(owed)))


@command(app, "close", example="privacyctl breach close 6f1c...")
def close(cli: Cli, breach_id: BreachId) -> None:
    """Close the breach; refused, naming what is missing, until everyone is covered."""
    try:
        b = cli.client.send(breach.close(breach_id))
    except Conflict as exc:
        missing = {k: v for k, v in exc.detail.items() if k not in ("error", "message", "field")}
        hint = "; ".join(
            "; ".join(map(str, v)) if isinstance(v, list) else f"{k}: {v}"
            for k, v in missing.items()
        )
        fail(
            f"cannot close yet: {exc.message}" + (f" ({hint})" if hint else ""),
            Exit.CONFLICT,
            f"see who is pending: privacyctl breach people {breach_id} --state pending",
        )
    cli.say(f"closed {b.reference}")
    cli.result(b, lambda: _show(cli, b))


@command(
    app,
    "record",
    example="privacyctl breach record 6f1c... --format html -o record.html   "
    "(one regulator's: --regime sg --format pdf -o sg.pdf)",
)
def record(
    cli: Cli,
    breach_id: BreachId,
    format: Annotated[
        Literal["json", "html", "pdf"], typer.Option(help="json, html or pdf (pdf: --regime).")
    ] = "json",
    regime: Annotated[
        str | None,
        typer.Option(
            help="One regulator's record under this regime (sg, my, th, ...); without it, "
            "the record for the supervisory authority (GDPR Art. 33(3), 33(5))."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE, not stdout.")
    ] = None,
) -> None:
    """The record for a regulator: GDPR's, or one regime's with every item its row requires."""
    if format == "pdf" and regime is None:
        fail("--format pdf needs --regime", Exit.USAGE, "e.g. --regime sg --format pdf -o sg.pdf")
    if format == "pdf" and output is None:
        fail("a PDF is written to a file: add -o FILE", Exit.USAGE, "e.g. -o record.pdf")
    if regime is not None and format != "json":
        body = cli.client.send(breach.regime_record_file(breach_id, regime, format))
    elif regime is not None:
        data = cli.client.send(breach.regime_record(breach_id, regime))
        body = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
    elif format == "html":
        body = cli.client.send(breach.record_html(breach_id))
    else:
        body = (
            json.dumps(cli.client.send(breach.record(breach_id)), indent=2, sort_keys=True) + "\n"
        ).encode()
    if output is None:
        typer.echo(body.decode(), nl=False)
        return
    partial = output.with_name(output.name + ".partial")
    partial.write_bytes(body)
    partial.replace(output)
    cli.say(f"wrote {output}")
