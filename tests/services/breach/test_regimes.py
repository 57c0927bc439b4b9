"""The regimes file: the shipped rows load, and a bad row stops the load naming itself."""

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devtools.regimes import BEGIN, END, table
from devtools.stack import ROOT
from services.breach import regimes
from services.breach.regimes import Anchor, RegimesInvalid

ASEAN = {"SG", "TH", "PH", "ID", "MY", "VN", "BN", "LA", "KH", "MM"}


def document() -> dict[str, Any]:
    return tomllib.loads(regimes.REGIMES_FILE.read_text(encoding="utf-8"))


def row(doc: dict[str, Any], regime_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in doc["regime"] if r["id"] == regime_id)
    return found


def test_the_shipped_file_holds_the_eu_and_the_ten_asean_states() -> None:
    loaded = regimes.load()
    assert [r.id for r in loaded] == [
        "eu",
        "sg",
        "th",
        "ph",
        "id",
        "my",
        "vn",
        "bn",
        "la",
        "kh",
        "mm",
    ]
    assert {r.countries[0] for r in loaded if r.id != "eu"} == ASEAN
    assert len(loaded["eu"].countries) == 27 and "DE" in loaded["eu"].countries
    assert all(r.sources and r.last_reviewed for r in loaded)
    assert {r.id for r in loaded if r.anchor is Anchor.NONE} == {"la", "kh", "mm"}


def test_the_shipped_rows_say_what_the_brief_left_unverified() -> None:
    loaded = regimes.load()
    assert loaded["id"].is_unverified("anchor")
    assert loaded["bn"].is_unverified("anchor") and loaded["bn"].is_unverified("to_people.trigger")
    assert loaded["my"].is_unverified("to_people.deadline")
    assert loaded["vn"].is_unverified("to_people.deadline")
    assert loaded["sg"].is_unverified("to_regulator.content")
    assert not loaded["eu"].unverified and not loaded["th"].unverified


def test_the_shipped_rules_are_the_briefs() -> None:
    loaded = regimes.load()
    sg, my, ph, th = loaded["sg"], loaded["my"], loaded["ph"], loaded["th"]
    assert sg.anchor is Anchor.ASSESSMENT_CONCLUDED and sg.to_regulator
    assert sg.to_regulator.min_people == 500 and sg.to_regulator.deadline_hours == 72
    assert my.anchor is Anchor.OCCURRENCE and my.to_regulator
    assert my.to_regulator.min_people == 1001 and my.to_regulator.phase_limit_days == 30
    assert ph.to_regulator and ph.to_people and ph.to_people.deadline_hours == 72
    assert ph.to_regulator.no_delay_min_people == 100 and ph.to_regulator.phase_limit_days == 5
    assert th.to_regulator and th.to_regulator.extended_days == 15 and th.assessment_on_file
    assert loaded["vn"].anchor is Anchor.DETECTION
    assert (
        loaded["vn"].to_regulator
        and loaded["vn"].to_regulator.form == "Mẫu số 08 (Decree 356/2025)"
    )


def test_every_row_carries_the_not_legal_advice_sentence() -> None:
    for regime in regimes.load():
        assert "not legal advice" in regime.disclaimer
        assert regime.last_reviewed.isoformat() in regime.disclaimer


def broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(document())
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (
            lambda d: row(d, "sg")["to_regulator"].update(deadline_hours=0),
            r"regime 'sg' \(row 2\), to_regulator\.deadline_hours",
        ),
        (lambda d: row(d, "ph").update(anchor="discovery"), r"regime 'ph' \(row 4\), anchor"),
        (
            lambda d: row(d, "th")["to_regulator"].update(content=["nature", "dpo"]),
            r"regime 'th'.*to_regulator\.content\.1",
        ),
        (lambda d: row(d, "my").update(countries=["XX"]), r"regime 'my'.*countries\.0"),
        (
            lambda d: row(d, "vn")["to_regulator"].update(deadline_hour=72),
            r"regime 'vn'.*to_regulator\.deadline_hour:",
        ),
        (
            lambda d: row(d, "id")["to_people"].pop("deadline_hours"),
            r"regime 'id'.*to_people: .*deadline_hours is required",
        ),
        (
            lambda d: row(d, "la").update(to_people=row(d, "id")["to_people"]),
            r"regime 'la'.*anchor is 'none' but",
        ),
        (
            lambda d: row(d, "eu").update(unverified=["to_regulator.colour"]),
            r"regime 'eu'.*'to_regulator\.colour'",
        ),
        (
            lambda d: row(d, "id").update(unverified=[]),
            r"regime 'id'.*anchor is 'unverified' but unverified does not list it",
        ),
        (
            lambda d: row(d, "vn").update(unverified=["to_regulator.content"]),
            r"regime 'vn'.*to_people\.deadline is 'unverified'",
        ),
        (lambda d: row(d, "bn").update(last_reviewed="recently"), r"regime 'bn'.*last_reviewed"),
        (lambda d: row(d, "kh").update(sources=["not a url"]), r"regime 'kh'.*sources\.0"),
        (
            lambda d: row(d, "mm").update(countries=["TH"]),
            r"regime 'mm' \(row 11\), countries: TH is already under regime 'th'",
        ),
        (lambda d: row(d, "mm").update(id="th"), r"regime 'th' \(row 11\), id: 'th' is used twice"),
        (lambda d: d["regime"][1].pop("id"), r"regime #2 \(row 2\), id: Field required"),
        (lambda d: d.update(version=2), r"version must be 1"),
    ],
)
def test_a_bad_row_stops_the_load_naming_the_regime_and_field(
    change: Callable[[dict[str, Any]], None], names: str
) -> None:
    with pytest.raises(RegimesInvalid, match=names):
        regimes.parse(broken(change))


def test_a_file_that_is_not_toml_or_missing_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "regimes.toml"
    bad.write_text('version = 1\n[[regime]]\nid = "sg\n')
    with pytest.raises(RegimesInvalid, match=r"regimes\.toml: not valid TOML .*line 3"):
        regimes.load(bad)
    with pytest.raises(RegimesInvalid, match=r"absent\.toml: cannot be read"):
        regimes.load(tmp_path / "absent.toml")


def test_the_error_carries_the_regime_and_field_for_the_log() -> None:
    doc = broken(lambda d: row(d, "sg")["to_regulator"].update(min_people=0))
    with pytest.raises(RegimesInvalid) as caught:
        regimes.parse(doc)
    assert caught.value.field == "to_regulator.min_people"
    assert caught.value.extra == {"regime": "sg", "row": 2}


def test_the_document_holds_the_files_table() -> None:
    document = (ROOT / "docs" / "regimes.md").read_text(encoding="utf-8")
    start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
    expected = table(regimes.load())
    assert document[start:end].strip() == expected, (
        "docs/regimes.md no longer holds the regimes file's table; "
        "replace it with the output of 'python -m devtools.regimes'"
    )
