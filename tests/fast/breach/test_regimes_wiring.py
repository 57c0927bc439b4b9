"""The regimes wired into the breach service, without a broker or a database: a bad row stops
the bootstrap naming it, the establishment setting is checked, each country's notices get
the strictest deadline, the regulators' PDF shows Thai, Khmer and Burmese in their fonts,
and the notifier takes the most urgent notice first."""

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from markupsafe import escape
from pydantic import ValidationError

from services.breach import duties, obligations, records, regimes
from services.breach.bootstrap import bootstrap
from services.breach.config import BreachSettings
from services.breach.models import BreachRow
from services.breach.obligations import BreachFacts
from services.notifier.domain import Notice
from services.notifier.service.sending import _urgency
from tests.fast.fakes import NOWHERE_DATABASE, infrastructure

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)


def settings(**overrides: Any) -> BreachSettings:
    return BreachSettings(db_schema="fast_breach", database_url=NOWHERE_DATABASE, **overrides)


async def test_a_bad_row_stops_the_start_naming_the_regime_and_the_field(tmp_path: Path) -> None:
    text = regimes.REGIMES_FILE.read_text(encoding="utf-8")
    bad = tmp_path / "regimes.toml"
    bad.write_text(text.replace("deadline_hours = 72", "deadline_hours = 0", 1))
    infra = infrastructure(settings(regimes_file=bad))
    try:
        with pytest.raises(regimes.RegimesInvalid) as caught:
            await bootstrap(infra)
    finally:
        await infra.engine.dispose()
    first = tomllib.loads(text)["regime"][0]["id"]
    assert f"regime '{first}' (row 1)" in caught.value.message
    assert caught.value.field == "to_regulator.deadline_hours"


async def test_the_shipped_regimes_and_the_establishment_reach_the_runtime() -> None:
    infra = infrastructure(settings(establishment=["th"]))
    try:
        runtime = await bootstrap(infra)
        assert runtime.duty.establishment == ("TH",)
        assert {r.id for r in runtime.duty.regimes} >= {"eu", "sg", "th", "la"}
        await runtime.audit.close()
    finally:
        await infra.engine.dispose()


def test_an_establishment_that_is_not_a_country_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as caught:
        settings(establishment=["XX"])
    assert caught.value.errors()[0]["loc"][0] == "establishment"


def breach(started: datetime) -> BreachRow:
    return BreachRow(
        breach_id=uuid4(),
        reference="BR-2031-0001",
        title="t",
        what_happened="w",
        kinds=["confidentiality"],
        started_at=started,
        detected_at=T0,
        aware_at=T0,
        data_categories=["email_address"],
        likely_consequences="c",
        measures_taken="m",
        what_you_can_do="y",
        contact_point="dpo@example.org",
        declared_by="sec",
        declared_at=T0,
    )


def test_each_country_gets_the_strictest_fixed_deadline_at_most_the_platforms_72_hours() -> None:
    duty = duties.Duty(regimes.load())
    row = breach(T0 - timedelta(hours=10))
    facts = BreachFacts(
        detected_at=T0,
        aware_at=T0,
        occurred_at=row.started_at,
        people_by_country={"ID": 2, "VN": 1, "SG": 1},
    )
    derivation = obligations.derive(duty.regimes, establishment=(), facts=facts)
    deadlines = duties.person_deadlines(duty, derivation, row, ["ID", "VN", "SG", None])
    assert deadlines == {
        "ID": T0 + timedelta(hours=62),  # Indonesia's 72 hours from the earliest time
        "VN": T0 + timedelta(hours=72),  # Vietnam's people deadline is not verified
        "SG": T0 + timedelta(hours=72),
        None: T0 + timedelta(hours=72),  # country unknown: the platform's promise
    }
    # Established in Indonesia: its 72 hours cover everyone.
    duty = duties.Duty(regimes.load(), ("ID",))
    derivation = obligations.derive(duty.regimes, establishment=("ID",), facts=facts)
    assert set(duties.person_deadlines(duty, derivation, row, ["VN", None]).values()) == {
        T0 + timedelta(hours=62)
    }


def test_the_notifier_takes_the_most_urgent_notice_first() -> None:
    def notice(name: str, deadline: datetime | None) -> Notice:
        return Notice(name, "breach_notice", name, "b", T0, {}, deadline_at=deadline)

    batch = [
        notice("later", T0 + timedelta(hours=72)),
        notice("none", None),
        notice("first", T0 + timedelta(hours=10)),
    ]
    assert [n.notice_id for n in sorted(batch, key=_urgency)] == ["first", "later", "none"]


SCRIPTS = {
    "thai": "การละเมิดข้อมูลส่วนบุคคล",
    "khmer": "ការរំលោភទិន្នន័យផ្ទាល់ខ្លួន",
    "myanmar": "ကိုယ်ရေးအချက်အလက် ချိုးဖောက်မှု",
}


def test_the_regulators_pdf_embeds_a_font_for_thai_khmer_and_burmese() -> None:
    try:
        _, found = records.fonts()
    except Exception as exc:  # no font installed at all: the PDF says so with a 503
        pytest.skip(str(exc))
    missing = set(SCRIPTS) - set(found)
    if missing:
        pytest.skip(f"no Noto font for {sorted(missing)} (Debian's fonts-noto-core)")
    record = sample_record(" ".join(SCRIPTS.values()))
    pdf = records.pdf(record)
    assert pdf.startswith(b"%PDF")
    for font in ("NotoSansThai", "NotoSansKhmer", "NotoSansMyanmar"):
        assert font.encode() in pdf, font


def sample_record(what_happened: str) -> dict[str, Any]:
    """A record as ``records.record`` makes it, for the page and the PDF."""
    content = {
        item.value: {"label": label, "value": what_happened if item.value == "nature" else "x"}
        for item, label in records.LABELS.items()
    }
    return {
        "breach_id": str(uuid4()),
        "reference": "BR-2031-0001",
        "status": "open",
        "generated_at": T0.isoformat(),
        "regime": "th",
        "regime_name": "Thailand (PDPA)",
        "law": "PDPA",
        "regulator": "PDPC",
        "form": None,
        "sources": ["https://example.org"],
        "last_reviewed": "2026-12-07",
        "disclaimer": regimes.load()["th"].disclaimer,
        "content_verified": True,
        "content_note": None,
        "obligation": {
            "requirement": "required",
            "reason": "presumed",
            "state": "pending",
            "anchor": "awareness",
            "anchor_at": T0.isoformat(),
            "anchor_note": None,
            "deadline_at": (T0 + timedelta(hours=72)).isoformat(),
            "extended_until": None,
            "met_at": None,
        },
        "marks": [],
        "people_obligation": None,
        "required_items": list(content),
        "content": content,
        "missing": [],
        "complete": True,
        "phasing": {"allowed": False, "until": None, "follow_up_items": [], "note": "none"},
        "assessments": [],
        "assessment_on_file": True,
    }


def test_the_printable_page_marks_every_item_and_carries_the_disclaimer() -> None:
    record = sample_record(SCRIPTS["khmer"])
    page = records.html(record)
    assert all(f'data-item="{item}"' in page for item in record["required_items"])
    assert str(escape(record["disclaimer"])) in page
    assert SCRIPTS["khmer"] in page
