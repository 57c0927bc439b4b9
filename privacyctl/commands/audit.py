"""The auditors' commands: the trail of disclosures, its export, violations, recipients
that are late, and the log's proofs checked on this machine."""

import base64
import itertools
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from client import Client, Forbidden, Unavailable, audit
from client import log as merkle
from client.models.audit import Disclosure
from privacyctl.core import Cli, Exit, command, fail

trail_app = typer.Typer()
recipients_app = typer.Typer(
    help="Requests to the recipients of a person's data.", no_args_is_help=True
)
log_app = typer.Typer(
    help="The audit log's signed tree: heads, proofs, verification.", no_args_is_help=True
)
root = typer.Typer()  # violations sits at the top level

Subject = Annotated[str | None, typer.Option(help="Only this person's disclosures.")]
Organisation = Annotated[str | None, typer.Option(help="Only those to this organisation.")]
Country = Annotated[
    str | None, typer.Option(help="Only those to organisations of this country (ISO code).")
]
Purpose = Annotated[str | None, typer.Option(help="Only those for this purpose.")]
Basis = Annotated[str | None, typer.Option(help="Only those on this legal basis.")]
Since = Annotated[datetime | None, typer.Option(help="Accessed at or after (ISO 8601).")]
Until = Annotated[datetime | None, typer.Option(help="Accessed before (ISO 8601).")]
ViolationsOnly = Annotated[bool, typer.Option("--violations", help="Only violations.")]


def _filters(
    subject: str | None,
    organisation: str | None,
    country: str | None,
    purpose: str | None,
    legal_basis: str | None,
    since: datetime | None,
    until: datetime | None,
    violations: bool,
) -> audit.Filters:
    return audit.Filters(
        subject=subject,
        organisation=organisation,
        country=country,
        purpose=purpose,
        legal_basis=legal_basis,
        since=since,
        until=until,
        violations=violations,
    )


def _rows(cli: Cli, items: Iterator[Disclosure], limit: int | None) -> None:
    shown = itertools.islice(items, limit) if limit else items
    if cli.json:
        cli.lines(shown)
        return
    count = cli.table(
        [
            "seq",
            "accessed at",
            "organisation",
            "subject",
            "fields",
            "purpose",
            "decision",
            "verdict",
        ],
        (
            (
                d.seq,
                f"{d.accessed_at:%Y-%m-%d %H:%M:%S}",
                d.organisation_id,
                d.subject_id,
                ",".join(d.fields),
                d.purpose,
                d.decision,
                d.verdict or "-",
            )
            for d in shown
        ),
    )
    if limit and count == limit:
        cli.say(
            f"the first {limit}; --limit 0 shows all, "
            "'privacyctl trail export' writes them to a file"
        )


@command(
    trail_app,
    None,
    example="privacyctl trail --organisation ph-philexport --since 2026-01-01",
    callback=True,
)
def trail(
    cli: Cli,
    subject: Subject = None,
    organisation: Organisation = None,
    country: Country = None,
    purpose: Purpose = None,
    legal_basis: Basis = None,
    since: Since = None,
    until: Until = None,
    violations: ViolationsOnly = False,
    limit: Annotated[int, typer.Option(help="At most this many rows (0: all).")] = 100,
) -> None:
    """Who received whose data: disclosures in log order, with every filter the API has
    (JSON lines with --json); 'privacyctl trail export' writes them to a file."""
    filters = _filters(
        subject, organisation, country, purpose, legal_basis, since, until, violations
    )
    page = min(limit, 1000) if limit else 1000
    _rows(cli, cli.client.pages(audit.disclosures(filters, limit=page)), limit or None)


@command(
    trail_app,
    "export",
    example="privacyctl trail export --organisation ph-philexport --format csv -o trail.csv",
)
def export(
    cli: Cli,
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write.")],
    format: Annotated[Literal["csv", "jsonl"], typer.Option(help="csv or jsonl.")] = "jsonl",
    subject: Subject = None,
    organisation: Organisation = None,
    country: Country = None,
    purpose: Purpose = None,
    legal_basis: Basis = None,
    since: Since = None,
    until: Until = None,
    violations: ViolationsOnly = False,
) -> None:
    """Stream the matching disclosures to a file, as they arrive. The file appears under
    its name only once complete: an interrupted export leaves no half file."""
    filters = _filters(
        subject, organisation, country, purpose, legal_basis, since, until, violations
    )
    try:
        rows, size = export_to(cli, cli.client, filters, format, output)
    except Unavailable as exc:
        fail(f"{exc}; nothing was written to {output}", Exit.UNAVAILABLE, "run the export again")
    cli.say(f"wrote {rows} disclosures ({size} bytes) to {output}")
    cli.result({"file": str(output), "rows": rows, "bytes": size}, human=lambda: None)


def export_to(
    cli: Cli, client: Client, filters: audit.Filters, format: str, output: Path
) -> tuple[int, int]:
    """Write the export to ``output`` through a partial file; (rows, bytes)."""
    partial = output.with_name(f".{output.name}.partial")
    rows = size = 0
    try:
        with (
            partial.open("wb") as sink,
            Progress(
                TextColumn("exporting"),
                TextColumn("{task.fields[rows]} rows"),
                TransferSpeedColumn(),
                console=cli.err,
                disable=cli.quiet or cli.json,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task("export", total=None, rows=0)
            for chunk in client.stream(audit.export(filters, format=format)):  # type: ignore[arg-type]
                sink.write(chunk)
                size += len(chunk)
                rows += chunk.count(b"\n")
                progress.update(task, advance=len(chunk), rows=rows - (format == "csv"))
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return rows - (format == "csv" and rows > 0), size


@command(root, "violations", example="privacyctl violations --limit 20")
def violations(
    cli: Cli, limit: Annotated[int, typer.Option(help="At most this many rows (0: all).")] = 100
) -> None:
    """Disclosures the consent check after the fact found without a valid consent or basis."""
    _rows(
        cli,
        cli.client.pages(audit.violations(limit=min(limit, 1000) if limit else 1000)),
        limit or None,
    )


@command(
    recipients_app, "overdue", example="privacyctl recipients overdue --organisation ph-philexport"
)
def overdue(cli: Cli, organisation: Organisation = None) -> None:
    """Requests to recipients (erase, correct, stop) not answered by their date."""
    rows = cli.client.pages(audit.recipient_requests(organisation=organisation, state="overdue"))
    if cli.json:
        cli.lines(rows)
        return
    cli.table(
        ["request", "organisation", "action", "user", "respond by", "state"],
        (
            (r.request_id, r.organisation, r.action.value, r.user_id, r.respond_by, r.state.value)
            for r in rows
        ),
    )


@command(log_app, "head", example="privacyctl log head")
def head(cli: Cli) -> None:
    """The newest signed tree head, its signature checked against the published key."""
    tree_head = cli.client.send(audit.latest_tree_head())
    key = cli.client.send(audit.public_key())
    signed = merkle.head_signed(tree_head, key)
    result = {**tree_head.model_dump(mode="json"), "signature_valid": signed}

    def show() -> None:
        cli.out.print(
            f"tree size {tree_head.tree_size}, signed {tree_head.signed_at:%Y-%m-%d %H:%M:%S} UTC"
        )
        cli.out.print(f"root {base64.b64decode(tree_head.root_hash).hex()}")
        cli.out.print(f"key {key.key_id}: signature {'verifies' if signed else 'DOES NOT verify'}")

    cli.result(result, show)
    if not signed:
        fail("the tree head's signature does not verify with the published key", Exit.FAILED)


@command(log_app, "proof", example="privacyctl log proof 17")
def proof(
    cli: Cli, seq: Annotated[int, typer.Argument(help="The entry's sequence number.")]
) -> None:
    """Prove entry SEQ is in the signed tree: its leaf re-hashed here (for roles that may
    read entries), the audit path checked against the signed head, the head's signature
    against the published key."""
    tree_head = cli.client.send(audit.latest_tree_head())
    key = cli.client.send(audit.public_key())
    if seq >= tree_head.tree_size:
        fail(
            f"entry {seq} is not in the signed tree yet ({tree_head.tree_size} entries)",
            Exit.NOT_FOUND,
            "a tree head is signed about once a second; try again shortly",
        )
    answer = cli.client.send(audit.inclusion_proof(seq, tree_head.tree_size))
    try:
        leaf = merkle.leaf_hash(base64.b64decode(cli.client.send(audit.entry(seq)).leaf_data))
        rehashed = True
    except Forbidden:  # the security team proves entries it may not read: the proof's hash
        leaf, rehashed = base64.b64decode(answer.leaf_hash), False
    path = [base64.b64decode(p) for p in answer.audit_path]
    root_hash = base64.b64decode(tree_head.root_hash)
    included = merkle.verify_inclusion(leaf, seq, tree_head.tree_size, path, root_hash)
    signed = merkle.head_signed(tree_head, key)
    result = {
        "seq": seq,
        "tree_size": tree_head.tree_size,
        "leaf_hash": base64.b64encode(leaf).decode(),
        "leaf_rehashed": rehashed,
        "included": included,
        "signature_valid": signed,
        "ok": included and signed,
    }

    def show() -> None:
        cli.out.print(
            f"entry {seq} {'is' if included else 'is NOT'} in the tree of {tree_head.tree_size} "
            f"({len(path)} hashes{'' if rehashed else ', leaf hash as the service gave it'}); "
            f"the head's signature {'verifies' if signed else 'DOES NOT verify'}"
        )

    cli.result(result, show)
    if not (included and signed):
        fail(f"entry {seq}: the proof does not check out", Exit.FAILED)


@command(log_app, "verify", example="privacyctl log verify")
def verify(cli: Cli) -> None:
    """Read the whole log over HTTP, re-hash every leaf, recompute the root and check it
    and the signature against the newest signed tree head; exit 1 naming the first entry
    that does not match."""
    tree_head = cli.client.send(audit.latest_tree_head())
    key = cli.client.send(audit.public_key())
    size = tree_head.tree_size
    signed = merkle.head_signed(tree_head, key)
    builder = merkle.RootBuilder()
    leaves = merkle.Hashes()  # 32 bytes an entry, to find a mismatch without reading again
    started = time.monotonic()
    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} entries/s"),
        TimeRemainingColumn(),
        console=cli.err,
        disable=cli.quiet or cli.json,
        transient=True,
    ) as progress:
        task = progress.add_task("verify", total=size, rate="-")
        try:
            for leaf in merkle.leaves(cli.client, size):
                builder.add(leaf)
                leaves.append(leaf)
                if builder.size % 4096 == 0:
                    rate = builder.size / max(time.monotonic() - started, 1e-9)
                    progress.update(task, completed=builder.size, rate=f"{rate:,.0f}")
        except merkle.ShortAnswer as exc:
            fail(str(exc), Exit.FAILED)
    elapsed = time.monotonic() - started
    if builder.size != size:
        fail(f"the service gave {builder.size} entries of {size}", Exit.FAILED)
    matches = builder.root() == base64.b64decode(tree_head.root_hash)
    mismatch = None
    if not matches:
        mismatch = merkle.first_mismatch(
            leaves, size, lambda i: cli.client.send(audit.inclusion_proof(i, size))
        )
    result = {
        "tree_size": size,
        "root_matches": matches,
        "signature_valid": signed,
        "first_mismatch": None
        if mismatch is None
        else {"seq": mismatch.seq, "problem": mismatch.problem},
        "seconds": round(elapsed, 3),
        "entries_per_second": round(size / elapsed) if elapsed > 0 else None,
        "ok": matches and signed,
    }

    def show() -> None:
        rate = result["entries_per_second"]
        cli.out.print(
            f"{size} entries re-hashed in {elapsed:.1f} s ({rate} entries/s); "
            f"root {'matches' if matches else 'DOES NOT match'} the signed head; "
            f"signature {'verifies' if signed else 'DOES NOT verify'}"
        )

    cli.result(result, show)
    if not signed:
        fail("the newest tree head's signature does not verify with the published key", Exit.FAILED)
    if not matches:
        where = (
            f"entry {mismatch.seq}: {mismatch.problem}"
            if mismatch
            else "an entry could not be named"
        )
        fail(f"the log does not match its signed tree head: {where}", Exit.FAILED)
