"""The breach-notification regimes, as data: ``regimes.toml`` read and checked at start-up.

Each row is one regime (a law and its regulator, over a set of countries) with one rule per
recipient: the regulator, and the people. A bad row stops the start with a message that
names the regime and the field (:class:`RegimesInvalid`). What each field means:
docs/regimes.md. A deadline computed from a row is computed from that row, not legal advice.
"""

import tomllib
from collections.abc import Iterator, Mapping
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from services.breach.exceptions import BreachError
from shared.validation import CountryCode

REGIMES_FILE = Path(__file__).with_name("regimes.toml")
NOT_LEGAL_ADVICE = (
    "Computed from the row '{regime}' of services/breach/regimes.toml "
    "(last reviewed {last_reviewed}), not legal advice."
)
"""The sentence every screen and document showing a computed deadline carries."""


class RegimesInvalid(BreachError):
    """The regimes file cannot be read, or a row breaks a rule; ``field`` names where."""

    status_code = 500


class Anchor(StrEnum):
    """What starts a regime's clock."""

    AWARENESS = "awareness"
    ASSESSMENT_CONCLUDED = "assessment_concluded"
    OCCURRENCE = "occurrence"
    DETECTION = "detection"
    UNVERIFIED = "unverified"
    """The sources read do not say: the derivation counts from the earliest time recorded."""
    NONE = "none"
    """No duty to notify anyone."""


class Trigger(StrEnum):
    """What makes a recipient's duty apply."""

    ANY = "any"
    """Every breach."""
    RISK = "risk"
    """A risk to the rights and freedoms of people."""
    HIGH_RISK = "high_risk"
    SIGNIFICANT_HARM = "significant_harm"
    SERIOUS_HARM = "serious_harm"
    """A real risk of serious harm."""
    UNVERIFIED = "unverified"
    """Whether and when the duty applies is not verified."""


class PeopleDeadline(StrEnum):
    """How the deadline for telling people is set."""

    HOURS = "hours"
    SAME_TIME_OR_AFTER_REGULATOR = "same_time_or_after_regulator"
    """No fixed hours; never before the regulator is told."""
    WITHOUT_UNDUE_DELAY = "without_undue_delay"
    """No fixed hours (without undue delay, as soon as practicable, without delay)."""
    UNVERIFIED = "unverified"


class ContentItem(StrEnum):
    """What a regulator's record may be required to hold (a fixed vocabulary)."""

    NATURE = "nature"
    """The nature (type) of the breach: what happened."""
    SUBJECTS = "subjects"
    """Categories and approximate number of people concerned."""
    RECORDS = "records"
    """Categories and approximate number of personal data records concerned."""
    DATA_INVOLVED = "data_involved"
    """The personal data involved."""
    TIMING = "timing"
    """When and how the breach happened and was found."""
    CONTACT_POINT = "contact_point"
    """The data protection officer or other contact point."""
    LIKELY_CONSEQUENCES = "likely_consequences"
    MEASURES_TAKEN = "measures_taken"
    """Measures taken or proposed, including handling, recovery and mitigation."""
    ASSISTANCE_TO_SUBJECTS = "assistance_to_subjects"
    DELAY_REASONS = "delay_reasons"


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegulatorRule(_Row):
    """The duty to tell the regulator."""

    trigger: Trigger
    presumed: bool = False
    """The duty holds until an assessment concludes its trigger is not met (GDPR Art. 33)."""
    requires_sensitive: bool = False
    """Only when sensitive categories (or data enabling identity fraud) are involved."""
    min_people: int | None = Field(default=None, ge=1)
    """This many people covered or more make it notifiable whatever the assessment."""
    wording: str = Field(min_length=1)
    deadline_hours: int = Field(gt=0, le=24 * 365)
    late_requires_reasons: bool = False
    extended_days: int | None = Field(default=None, gt=0, le=365)
    """The latest a late notice may come, with reasons, in days after the anchor."""
    no_delay_min_people: int | None = Field(default=None, ge=1)
    """From this many people (or with sensitive data) no delay is allowed."""
    phased: bool = False
    phase_limit_days: int | None = Field(default=None, gt=0, le=365)
    """Phased follow-ups end this many days after the anchor."""
    content: tuple[ContentItem, ...]
    form: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.phase_limit_days is not None and not self.phased:
            raise ValueError("phase_limit_days is set but phased is false")
        if self.extended_days is not None and self.extended_days * 24 <= self.deadline_hours:
            raise ValueError("extended_days must end after deadline_hours")
        if len(set(self.content)) != len(self.content):
            raise ValueError("content lists an item twice")
        return self


class PeopleRule(_Row):
    """The duty to tell the people affected."""

    trigger: Trigger
    presumed: bool = False
    requires_sensitive: bool = False
    wording: str = Field(min_length=1)
    deadline: PeopleDeadline
    deadline_hours: int | None = Field(default=None, gt=0, le=24 * 365)

    @model_validator(mode="after")
    def _hours_when_counted(self) -> Self:
        counted = self.deadline is PeopleDeadline.HOURS
        if counted and self.deadline_hours is None:
            raise ValueError("deadline_hours is required when deadline is 'hours'")
        if not counted and self.deadline_hours is not None:
            raise ValueError(f"deadline_hours must be absent when deadline is '{self.deadline}'")
        return self


Url = Annotated[AnyHttpUrl, Field(description="Where the row's facts were read.")]


class Regime(_Row):
    """One regime's row: who it covers, whom to tell, by when, and what to say."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,15}$")
    name: str = Field(min_length=1)
    countries: tuple[CountryCode, ...] = Field(min_length=1)
    regulator: str = Field(min_length=1)
    """Whom to tell, by name."""
    law: str = Field(min_length=1)
    sources: tuple[Url, ...] = Field(min_length=1)
    anchor: Anchor
    assessment_expected_days: int | None = Field(default=None, gt=0, le=365)
    """How long the assessment is expected to take, from detection (Singapore: 30)."""
    assessment_on_file: bool = False
    """The assessment must be kept even when nothing is notified (Thailand)."""
    last_reviewed: date
    unverified: tuple[str, ...] = ()
    notes: str = ""
    to_regulator: RegulatorRule | None = None
    to_people: PeopleRule | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        duty = self.to_regulator is not None or self.to_people is not None
        if self.anchor is Anchor.NONE and duty:
            raise ValueError("anchor is 'none' but the row has a to_regulator or to_people rule")
        if self.anchor is not Anchor.NONE and not duty:
            raise ValueError(
                f"anchor is '{self.anchor}' but the row has no to_regulator or to_people rule"
            )
        if len(set(self.countries)) != len(self.countries):
            raise ValueError("countries lists a country twice")
        for name in self.unverified:
            if not _names_a_field(name):
                raise ValueError(f"unverified names '{name}', which is not a field of the row")
        # A value that says "not verified" must be listed as such, so the list is complete.
        said = [("anchor", self.anchor is Anchor.UNVERIFIED)]
        if self.to_regulator is not None:
            said.append(("to_regulator.trigger", self.to_regulator.trigger is Trigger.UNVERIFIED))
        if self.to_people is not None:
            said.append(("to_people.trigger", self.to_people.trigger is Trigger.UNVERIFIED))
            said.append(
                ("to_people.deadline", self.to_people.deadline is PeopleDeadline.UNVERIFIED)
            )
        for name, unverified in said:
            if unverified and not self.is_unverified(name):
                raise ValueError(f"{name} is 'unverified' but unverified does not list it")
        return self

    def covers(self, country: str) -> bool:
        """Whether a person resident in ``country`` lives under this regime."""
        return country.upper() in self.countries

    def is_unverified(self, name: str) -> bool:
        """Whether the row says ``name`` (or the table holding it) is not verified."""
        return any(name == item or name.startswith(item + ".") for item in self.unverified)

    @property
    def disclaimer(self) -> str:
        """The sentence shown beside any deadline computed from this row."""
        return NOT_LEGAL_ADVICE.format(regime=self.id, last_reviewed=self.last_reviewed.isoformat())


_TABLES: dict[str, type[BaseModel]] = {"to_regulator": RegulatorRule, "to_people": PeopleRule}


def _names_a_field(name: str) -> bool:
    """Whether ``name`` is a field of a row, dotted into its table (``to_people.deadline``)."""
    head, _, rest = name.partition(".")
    if head in _TABLES:
        return not rest or rest in _TABLES[head].model_fields
    if rest:
        return False
    return head in Regime.model_fields and head != "unverified"


class Regimes:
    """Every regime, by id, with the country each resident's regime is found by."""

    def __init__(self, regimes: list[Regime]) -> None:
        self._by_id = {r.id: r for r in regimes}
        self._by_country = {c: r for r in regimes for c in r.countries}

    def __iter__(self) -> Iterator[Regime]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __getitem__(self, regime_id: str) -> Regime:
        return self._by_id[regime_id]

    def of_country(self, country: str) -> Regime | None:
        """The regime a resident of ``country`` lives under, if the file has one."""
        return self._by_country.get(country.upper())


def parse(document: Mapping[str, Any], *, source: str = "regimes.toml") -> Regimes:
    """Check every row of a parsed regimes document; the first bad one raises."""
    if document.get("version") != 1:
        raise RegimesInvalid(f"{source}: version must be 1", field="version")
    rows = document.get("regime")
    if not isinstance(rows, list) or not rows:
        raise RegimesInvalid(f"{source}: no [[regime]] rows", field="regime")
    unknown = set(document) - {"version", "regime"}
    if unknown:
        raise RegimesInvalid(f"{source}: unknown keys {sorted(unknown)}", field=sorted(unknown)[0])
    regimes: list[Regime] = []
    seen_countries: dict[str, str] = {}
    for number, raw in enumerate(rows, start=1):
        name = raw.get("id") if isinstance(raw, dict) else None
        label = f"regime '{name}'" if isinstance(name, str) else f"regime #{number}"
        if not isinstance(raw, dict):
            raise RegimesInvalid(f"{source}: {label} is not a table", field=f"regime[{number}]")
        try:
            regime = Regime.model_validate(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "row"
            raise RegimesInvalid(
                f"{source}: {label} (row {number}), {where}: {error['msg']}",
                field=where,
                extra={"regime": name, "row": number},
            ) from None
        if regime.id in {r.id for r in regimes}:
            raise RegimesInvalid(
                f"{source}: {label} (row {number}), id: '{regime.id}' is used twice", field="id"
            )
        for country in regime.countries:
            if country in seen_countries:
                raise RegimesInvalid(
                    f"{source}: {label} (row {number}), countries: {country} is already under "
                    f"regime '{seen_countries[country]}'",
                    field="countries",
                    extra={"regime": name, "row": number},
                )
            seen_countries[country] = regime.id
        regimes.append(regime)
    return Regimes(regimes)


def load(path: Path = REGIMES_FILE) -> Regimes:
    """Read and check the regimes file; raises :class:`RegimesInvalid` naming the bad row."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegimesInvalid(f"{path}: cannot be read ({exc.strerror})", field="file") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegimesInvalid(f"{path}: not valid TOML ({exc})", field="file") from None
    return parse(document, source=path.name)
