"""The record a regulator gets (GDPR Art. 33(3), and Art. 33(5) for every breach), as
JSON and as a page that prints; and each person's evidence as CSV.
"""

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.breach import queries, repository
from services.breach.domain import Decision
from services.breach.models import PersonOut
from shared.clock import Clock
from shared.db import Sessions
from shared.pages import content_security_policy, inline_blocks

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
REPORT_PAGE = TEMPLATES.get_template("report.html")
"""Loaded at import, so a template that does not parse stops the service at start-up."""
REPORT_POLICY = content_security_policy(
    styles=inline_blocks((Path(__file__).parent / "templates" / "report.html").read_text(), "style")
)
"""The page's Content-Security-Policy: its own inline stylesheet (it prints and is saved
as one file), nothing else."""

PEOPLE_COLUMNS = list(PersonOut.model_fields)


async def record(sessions: Sessions, clock: Clock, breach_id: UUID) -> dict[str, Any]:
    """Everything Art. 33(3) asks for, the decision of Art. 33(5), and the timeline."""
    breach = await queries.get(sessions, clock, breach_id)
    async with sessions() as session:
        entries = await repository.timeline(session, breach_id)
        marks = await repository.marks_of(session, breach_id)
    counts = breach.counts
    decision = breach.regulator_decision
    records = breach.approximate_records
    estimated = records is None
    if records is None:
        records = counts.affected * len(breach.data_categories)
    reported_in_time: bool | None = None
    if decision is not None and decision.reported_at is not None:
        reported_in_time = decision.reported_at <= breach.deadline_at
    missing = []
    if decision is None:
        missing.append("regulator decision (report or not, with the reason)")
    if counts.pending:
        missing.append(f"{counts.pending} people neither notified nor covered by an announcement")
    if breach.announcement_required and breach.announcement is None:
        missing.append("the public announcement for people who cannot be reached")
    if breach.scopes_resolving:
        missing.append(f"{breach.scopes_resolving} scopes still being resolved to people")
    return {
        "breach_id": str(breach.breach_id),
        "reference": breach.reference,
        "status": breach.status,
        "generated_at": (await clock.now()).isoformat(),
        "complete": not missing,
        "missing": missing,
        "nature": {
            "title": breach.title,
            "what_happened": breach.what_happened,
            "kinds": breach.kinds,
            "started_at": breach.started_at,
            "ended_at": breach.ended_at,
            "detected_at": breach.detected_at,
            "aware_at": breach.aware_at,
            "data_categories": breach.data_categories,
            "data_subjects_concerned": counts.affected,
            "data_subjects_approximate": breach.scopes_resolving > 0,
            "records_concerned": records,
            "records_estimated": estimated,
        },
        "contact_point": breach.contact_point,
        "likely_consequences": breach.likely_consequences,
        "measures_taken_or_proposed": breach.measures_taken,
        "advice_to_data_subjects": breach.what_you_can_do,
        "supervisory_authority": {
            "decision": decision.decision.value if decision else None,
            "reported": decision.decision is Decision.REPORT if decision else None,
            "reason": decision.reason if decision else None,
            "authority": decision.authority if decision else None,
            "deadline_at": breach.deadline_at,
            "reported_at": decision.reported_at if decision else None,
            "reported_within_72_hours": reported_in_time,
            "delay_reasons": decision.delay_reasons if decision else None,
            "decided_at": decision.decided_at if decision else None,
            "decided_by": decision.decided_by if decision else None,
        },
        "communication_to_data_subjects": {
            **counts.model_dump(),
            "announcement_required": breach.announcement_required,
            "announcement": breach.announcement.model_dump() if breach.announcement else None,
            "resent": breach.resent,
            "mail_servers_unreachable": [m.model_dump() for m in breach.mail_servers_unreachable],
            "states": STATE_MEANINGS,
        },
        "clock": marks,
        "timeline": [
            {"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail}
            for e in entries
        ],
    }


STATE_MEANINGS = {
    "requested": "Asked of the notifier; no outcome known yet.",
    "delivered": "A mail server accepted the message (SMTP 250). It proves hand-over "
    "for delivery, not that the person received or read it.",
    "uncertain": "Accepted after a re-send that followed a crash; the person may hold two "
    "copies with the same Message-ID.",
    "failed": "Not sent (no address, erased, refused with 5xx, temporary failures retried "
    "until shortly before the person's deadline) or bounced after acceptance.",
    "covered_by_announcement": "Failed, and the recorded public announcement informs "
    "them instead (GDPR Art. 34(3)(c)).",
}


def html(record_: dict[str, Any]) -> str:
    """The record as a page that reads and prints well."""
    return REPORT_PAGE.render(r=record_, when=_when)


def _cell(value: Any) -> Any:
    # A spreadsheet runs a cell starting with one of these as a formula (CSV injection);
    # a server's reply text is not ours to trust.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "—" if value is None else str(value)


async def people_csv(sessions: Sessions, breach_id: UUID) -> AsyncIterator[bytes]:
    """Every person's evidence as CSV, read and sent a page at a time."""
    async with sessions() as session:
        breach = await queries.load(session, breach_id)
    announced = breach.announcement_recorded_at is not None
    return _csv_rows(sessions, breach_id, announced)


async def _csv_rows(sessions: Sessions, breach_id: UUID, announced: bool) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PEOPLE_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    async with sessions() as session:
        async for row in repository.stream_people(session, breach_id):
            person = queries.person_out(row, announced).model_dump(mode="json")
            person["data_categories"] = " ".join(person["data_categories"])
            writer.writerow({k: _cell(v) for k, v in person.items()})
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()
