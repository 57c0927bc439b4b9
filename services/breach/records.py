"""One record per regulator: what its regime's row requires, as JSON, a printable page and
PDF, with the phased follow-ups where the regime allows them.

Each content item of the row (``to_regulator.content``) is taken from the breach's
record (``report.record``: its account, counts, timing and decisions) and from the
regime's obligation (the people it covers, the reasons of a delay). Where the row's
content is not verified, the record holds every item of the vocabulary and says that the
regulator's own form decides. Every record carries the row's disclaimer.
"""

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.breach import duties, report
from services.breach.duties import Duty
from services.breach.exceptions import ObligationNotFound, PdfUnavailable, RegimeNotFound
from services.breach.regimes import ContentItem
from shared.clock import Clock
from shared.db import Sessions

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)
RECORD_PAGE = TEMPLATES.get_template("regulator_record.html")
"""Loaded at import, so a template that does not parse stops the service at start-up."""

LABELS = {
    ContentItem.NATURE: "Nature of the breach",
    ContentItem.SUBJECTS: "People concerned (categories and approximate number)",
    ContentItem.RECORDS: "Personal data records concerned",
    ContentItem.DATA_INVOLVED: "Personal data involved",
    ContentItem.TIMING: "When and how it happened and was found",
    ContentItem.CONTACT_POINT: "Contact point (data protection officer)",
    ContentItem.LIKELY_CONSEQUENCES: "Likely consequences",
    ContentItem.MEASURES_TAKEN: "Measures taken or proposed (handling and recovery)",
    ContentItem.ASSISTANCE_TO_SUBJECTS: "Assistance offered to the people concerned",
    ContentItem.DELAY_REASONS: "Reasons for a delay",
}


async def record(
    sessions: Sessions, clock: Clock, duty: Duty, breach_id: UUID, regime_id: str
) -> dict[str, Any]:
    """The record for one regime's regulator, with every item its row requires."""
    if regime_id not in {r.id for r in duty.regimes}:
        raise RegimeNotFound(f"no regime '{regime_id}' in the regimes file", field="path.regime")
    regime = duty.regimes[regime_id]
    base = await report.record(sessions, clock, breach_id)
    view = await duties.view(sessions, clock, duty, breach_id)
    owed = next(
        (o for o in view.obligations if o.regime == regime_id and o.recipient == "regulator"),
        None,
    )
    if owed is None:
        why = next((w.reason for w in view.without_duty if w.regime == regime_id), None)
        raise ObligationNotFound(
            f"breach {base['reference']} has no obligation to the regulator of regime "
            f"'{regime_id}'" + (f" ({why})" if why else " (it covers nobody affected)"),
            field="path.regime",
        )
    people = next(
        (o for o in view.obligations if o.regime == regime_id and o.recipient == "people"), None
    )
    rule = regime.to_regulator
    verified = rule is not None and not regime.is_unverified("to_regulator.content")
    required = list(rule.content) if rule is not None and verified else list(ContentItem)
    late = owed.state == "late" or (
        owed.state == "pending" and owed.seconds_left is not None and owed.seconds_left < 0
    )
    covered = {
        country: n
        for country, n in view.people_by_country.items()
        if duty.covers(regime_id, country)
    }
    values = _values(base, owed.people, covered, owed.delay_reasons, late)
    content = {item.value: {"label": LABELS[item], "value": values[item]} for item in required}
    missing = [item.value for item in required if values[item] in (None, "", [])]
    approximate = [
        item
        for item, flag in (
            ("subjects", base["nature"]["data_subjects_approximate"]),
            ("records", base["nature"]["records_estimated"]),
        )
        if flag and item in content
    ]
    return {
        "breach_id": base["breach_id"],
        "reference": base["reference"],
        "status": base["status"],
        "generated_at": base["generated_at"],
        "regime": regime.id,
        "regime_name": regime.name,
        "law": regime.law,
        "regulator": regime.regulator,
        "form": rule.form if rule else None,
        "sources": [str(s) for s in regime.sources],
        "last_reviewed": regime.last_reviewed.isoformat(),
        "disclaimer": owed.disclaimer,
        "content_verified": verified,
        "content_note": None
        if verified
        else "The fields this regulator requires were not verified: every item is given, "
        "and the regulator's own form decides what is filed.",
        "obligation": owed.model_dump(mode="json", exclude={"marks"}),
        "marks": [m.model_dump(mode="json") for m in owed.marks],
        "people_obligation": people.model_dump(mode="json", exclude={"marks"}) if people else None,
        "required_items": [item.value for item in required],
        "content": content,
        "missing": missing,
        "complete": not missing,
        "phasing": {
            "allowed": bool(rule and rule.phased),
            "until": owed.phases_until.isoformat() if owed.phases_until else None,
            "follow_up_items": sorted(set(missing) | set(approximate))
            if rule and rule.phased
            else [],
            "note": (
                "Items missing or approximate now may follow in phases"
                + (f" until {owed.phases_until.isoformat()}" if owed.phases_until else "")
                + "; each follow-up is this record generated again."
            )
            if rule and rule.phased
            else "This regime's row allows no phased reporting: file the record whole.",
        },
        "assessments": [a.model_dump(mode="json") for a in view.assessments],
        "assessment_on_file": regime.assessment_on_file,
    }


def _values(
    base: dict[str, Any],
    people: int,
    covered: dict[str, int],
    delay_reasons: str | None,
    late: bool,
) -> dict[ContentItem, Any]:
    nature = base["nature"]
    return {
        ContentItem.NATURE: {
            "title": nature["title"],
            "what_happened": nature["what_happened"],
            "kinds": nature["kinds"],
        },
        ContentItem.SUBJECTS: {
            "categories": "users of the platform",
            "people_concerned": people,
            "by_country": {c or "unknown": n for c, n in sorted(covered.items())},
            "approximate": nature["data_subjects_approximate"],
        },
        ContentItem.RECORDS: {
            "records_concerned": nature["records_concerned"],
            "estimated": nature["records_estimated"],
            "of_the_whole_breach": True,
        },
        ContentItem.DATA_INVOLVED: nature["data_categories"],
        ContentItem.TIMING: {
            "started_at": _iso(nature["started_at"]),
            "ended_at": _iso(nature["ended_at"]),
            "detected_at": _iso(nature["detected_at"]),
            "aware_at": _iso(nature["aware_at"]),
        },
        ContentItem.CONTACT_POINT: base["contact_point"],
        ContentItem.LIKELY_CONSEQUENCES: base["likely_consequences"],
        ContentItem.MEASURES_TAKEN: base["measures_taken_or_proposed"],
        ContentItem.ASSISTANCE_TO_SUBJECTS: base["advice_to_data_subjects"],
        ContentItem.DELAY_REASONS: delay_reasons
        if late
        else (delay_reasons or "not late: no reasons needed"),
    }


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def html(record_: dict[str, Any]) -> str:
    """The record as a page that reads and prints well."""
    return RECORD_PAGE.render(r=record_, show=_show)


def _show(value: Any) -> str:
    """A content value as lines of text."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dict):
        return "\n".join(f"{k.replace('_', ' ')}: {_show(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


# --- PDF ----------------------------------------------------------------------------------

FONT_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/truetype/dejavu"))
BASE_FONTS = ("NotoSans-Regular.ttf", "DejaVuSans.ttf")
SCRIPT_FONTS = {
    "thai": "NotoSansThai-Regular.ttf",
    "khmer": "NotoSansKhmer-Regular.ttf",
    "lao": "NotoSansLao-Regular.ttf",
    "myanmar": "NotoSansMyanmar-Regular.ttf",
}
"""Debian's fonts-noto-core (``deploy/local/browser.sh install`` installs it)."""


@cache
def fonts() -> tuple[Path, dict[str, Path]]:
    """The base font and the script fonts found on this machine."""
    found = {
        name: directory / name
        for directory in FONT_DIRS
        for name in (*BASE_FONTS, *SCRIPT_FONTS.values())
        if (directory / name).is_file()
    }
    base = next((found[name] for name in BASE_FONTS if name in found), None)
    if base is None:
        raise PdfUnavailable(
            "no font to write the PDF with: install Debian's fonts-noto-core "
            f"(looked in {', '.join(str(d) for d in FONT_DIRS)})",
            field="format",
        )
    scripts = {key: found[name] for key, name in SCRIPT_FONTS.items() if name in found}
    return base, scripts


def pdf(record_: dict[str, Any]) -> bytes:
    """The record as PDF: the same sections as the page, Thai, Khmer, Lao and Burmese
    shaped with HarfBuzz from the Noto fonts (others in a script no installed font
    covers show as missing glyphs)."""
    from fpdf import FPDF  # imported here: only a PDF request pays for it

    base, scripts = fonts()
    doc = FPDF(format="A4")
    doc.set_margins(18, 16, 18)
    doc.set_auto_page_break(True, margin=16)
    doc.add_font("base", fname=str(base))
    for key, path in scripts.items():
        doc.add_font(key, fname=str(path))
    doc.set_fallback_fonts(list(scripts), exact_match=False)
    doc.set_text_shaping(True)
    doc.add_page()
    r = record_

    def heading(text: str, size: float = 12) -> None:
        doc.ln(2)
        doc.set_font("base", size=size)
        doc.multi_cell(0, size * 0.55, text, new_x="LMARGIN", new_y="NEXT")
        doc.ln(1)

    def line(label: str, value: Any) -> None:
        doc.set_font("base", size=8.5)
        doc.set_text_color(90, 90, 90)
        doc.multi_cell(0, 4.2, label, new_x="LMARGIN", new_y="NEXT")
        doc.set_text_color(0, 0, 0)
        doc.set_font("base", size=10)
        doc.multi_cell(0, 5, _show(value), new_x="LMARGIN", new_y="NEXT")
        doc.ln(1)

    heading(f"Personal data breach {r['reference']}: record for {r['regulator']}", 15)
    line("Regime", f"{r['regime_name']} ({r['regime']}): {r['law']}")
    line("Filed through", r["form"] or "no form named by the regime's row")
    line("Disclaimer", r["disclaimer"])
    if r["content_note"]:
        line("Content", r["content_note"])
    o = r["obligation"]
    heading("The obligation")
    line("Requirement", f"{o['requirement']}: {o['reason']}")
    line("State", o["state"])
    line("Clock from", f"{o['anchor']} {o['anchor_at'] or '(waiting)'}")
    if o["anchor_note"]:
        line("How the clock was read", o["anchor_note"])
    line("Deadline", o["deadline_at"])
    if o["extended_until"]:
        line("Latest with reasons", o["extended_until"])
    line("Told at", o["met_at"])
    heading("What the regulator requires")
    for item in r["required_items"]:
        entry = r["content"][item]
        line(entry["label"], entry["value"])
    if r["missing"]:
        line("Missing", ", ".join(r["missing"]))
    heading("Phases")
    line("Phased reporting", r["phasing"]["note"])
    if r["assessments"]:
        heading("Assessments on file")
        for a in r["assessments"]:
            line(
                f"#{a['seq']} by {a['assessed_by']}, concluded {a['concluded_at']}",
                f"findings: {', '.join(a['findings']) or 'none'}; sensitive: {a['sensitive']}\n"
                f"{a['text']}",
            )
    line("Generated", f"{r['generated_at']} · breach id {r['breach_id']}")
    return bytes(doc.output())
