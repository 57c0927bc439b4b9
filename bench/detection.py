"""Detection against a generated month of normal traffic with injected attacks.

    .venv/bin/python -m bench.detection [DISCLOSURES] [DAYS]

Generates DISCLOSURES (default 1,000,000) disclosures over DAYS (30) days for 40 member
organisations in ten countries: working hours in each country's time zone (diurnal),
quiet weekends (weekly), rates that differ by organisation, each reading its own set of
people again and again. Into the last week it injects five attacks, one organisation
each: a bulk read (5,000 people in two minutes), a slow exfiltration (new people at
four times the organisation's usual rate for six working hours), an enumeration (300
refused reads in 20 minutes), category creep (reads of a category outside the grant)
and a new producer. The disclosures go hour by hour, in batches of 2,000, through the
detection service's own use case (``service.on_disclosures``) on a scratch schema of
the real database, in time order; Kafka is not in the path (see "latency" below).

Reports: incidents raised by normal traffic (false positives), each attack found or
missed (and by which rules), and the time each batch took to be judged and committed
with its alerts (p50, p99): the part of the detection latency that is detection's own.
The end-to-end latency at the audit's full ingestion rate (through Kafka, behind the
audit's consumer) is not measured by this benchmark.
"""

import asyncio
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from devtools.stack import DATABASE_URL, unique
from devtools.topics import drop_topics
from services.detection import service
from services.detection.config import DetectionSettings
from services.detection.main import build_app
from shared.clock import ManualClock
from shared.db import create_engine
from shared.events import (
    AccessGrantCreated,
    AccessGrantPayload,
    DataAccessed,
    DataAccessedPayload,
    Decision,
    LegalBasis,
)

START = datetime(2031, 1, 6, tzinfo=UTC)  # a Monday
COUNTRIES = {
    "PH": 8,
    "TH": 7,
    "ID": 7,
    "MY": 8,
    "SG": 8,
    "VN": 7,
    "KH": 7,
    "LA": 7,
    "MM": 6,
    "BN": 8,
}
BATCH = 2000
CATEGORIES = ["email_address", "full_name", "company_name"]


@dataclass
class Org:
    slug: str
    offset: int  # hours ahead of UTC
    weight: float
    people: list[str]
    channel: str


def orgs(rng: random.Random) -> list[Org]:
    out = []
    for i in range(40):
        country = list(COUNTRIES)[i % len(COUNTRIES)]
        size = rng.choice([300, 800, 2000, 5000])
        out.append(
            Org(
                slug=f"{country.lower()}-org-{i:02d}",
                offset=COUNTRIES[country],
                weight=rng.lognormvariate(0, 0.8),
                people=[f"{country.lower()}-u-{i:02d}-{n:05d}" for n in range(size)],
                channel=rng.choice(["registry_api", "export"]),
            )
        )
    return out


def activity(org: Org, hour: datetime) -> float:
    """How busy the organisation is in this UTC hour: its local working day, weekdays."""
    local = hour + timedelta(hours=org.offset)
    if local.weekday() >= 5:
        return 0.08
    h = local.hour
    if 9 <= h < 12 or 13 <= h < 17:
        return 1.0
    if h in (8, 12, 17, 18):
        return 0.5
    return 0.03


def read(
    org: str,
    person: str,
    at: datetime,
    *,
    producer: str = "registry",
    channel: str = "registry_api",
    fields: list[str] | None = None,
    decision: Decision = Decision.ALLOW,
) -> DataAccessed:
    payload = DataAccessedPayload.model_construct(
        organisation_id=org,
        organisation_country=None,
        actor=f"analyst@{org}",
        subject_id=person,
        subject_country=None,
        fields=fields or ["email_address", "full_name"],
        purpose="member_organisation_sharing",
        legal_basis=LegalBasis.CONSENT,
        legal_reference=None,
        channel=channel,
        accessed_at=at,
        decision=decision,
        decision_reason=None,
        consent_id=None,
        consent_version=None,
        grant_id=f"grant-{org}",
    )
    return DataAccessed.model_construct(
        event_id=uuid.uuid4(),
        event_type="data.accessed",
        schema_version=1,
        occurred_at=at,
        producer=producer,
        subject_id=person,
        payload=payload,
    )


@dataclass
class Attack:
    name: str
    org: str
    start: datetime
    end: datetime
    events: list[DataAccessed]


def attacks(rng: random.Random, all_orgs: list[Org], days: int, per_hour: float) -> list[Attack]:
    """Five attacks in the last week, each by its own organisation, in its working hours."""
    day = START + timedelta(days=days - 5)
    chosen = rng.sample(all_orgs, 5)

    def at_work(org: Org, d: int, hour: int) -> datetime:
        return (day + timedelta(days=d)).replace(hour=(hour - org.offset) % 24)

    out = []
    bulk, slow, enum, creep, rogue = chosen
    t = at_work(bulk, 0, 10)
    out.append(
        Attack(
            "bulk read",
            bulk.slug,
            t,
            t + timedelta(minutes=2),
            [
                read(
                    bulk.slug,
                    f"victim-bulk-{i:05d}",
                    t + timedelta(seconds=i * 120 / 5000),
                    channel=bulk.channel,
                )
                for i in range(5000)
            ],
        )
    )
    t = at_work(slow, 1, 9)
    usual = max(1.0, per_hour * slow.weight)
    n = int(4 * usual * 6)
    out.append(
        Attack(
            "slow exfiltration",
            slow.slug,
            t,
            t + timedelta(hours=6),
            [
                read(
                    slow.slug,
                    f"victim-slow-{i:05d}",
                    t + timedelta(seconds=i * 6 * 3600 / n),
                    channel=slow.channel,
                )
                for i in range(n)
            ],
        )
    )
    t = at_work(enum, 2, 11)
    out.append(
        Attack(
            "enumeration",
            enum.slug,
            t,
            t + timedelta(minutes=20),
            [
                read(
                    enum.slug,
                    f"victim-enum-{i:05d}",
                    t + timedelta(seconds=i * 4),
                    channel=enum.channel,
                    decision=Decision.DENY,
                )
                for i in range(300)
            ],
        )
    )
    t = at_work(creep, 3, 14)
    out.append(
        Attack(
            "category creep",
            creep.slug,
            t,
            t + timedelta(minutes=30),
            [
                read(
                    creep.slug,
                    rng.choice(creep.people),
                    t + timedelta(minutes=i),
                    channel=creep.channel,
                    fields=["email_address", "phone_number"],
                )
                for i in range(30)
            ],
        )
    )
    t = at_work(rogue, 4, 15)
    out.append(
        Attack(
            "new producer",
            rogue.slug,
            t,
            t + timedelta(minutes=10),
            [
                read(
                    rogue.slug,
                    rng.choice(rogue.people),
                    t + timedelta(minutes=i),
                    producer="laptop-7",
                    channel=rogue.channel,
                )
                for i in range(10)
            ],
        )
    )
    return out


def hourly(rng: random.Random, all_orgs: list[Org], hour: datetime, per_hour: float) -> list[Any]:
    out = []
    for org in all_orgs:
        mean = per_hour * org.weight * activity(org, hour)
        n = (
            int(rng.gauss(mean, mean**0.5))
            if mean > 20
            else sum(
                1 for _ in range(int(mean * 4) + 1) if rng.random() < mean / (int(mean * 4) + 1)
            )
        )
        for _ in range(max(0, n)):
            at = hour + timedelta(seconds=rng.uniform(0, 3600))
            out.append(read(org.slug, rng.choice(org.people), at, channel=org.channel))
    return out


async def run(disclosures: int, days: int) -> None:
    rng = random.Random(25)
    all_orgs = orgs(rng)
    hours = [START + timedelta(hours=h) for h in range(days * 24)]
    load = sum(activity(o, h) * o.weight for o in all_orgs for h in hours)
    per_hour = disclosures / load
    schema = unique("bench_detection")
    clock = ManualClock(START)
    app = build_app(
        DetectionSettings(db_schema=schema, topic_prefix=f"{schema}.", log_level="WARNING"),
        clock=clock,
    )
    timings: list[float] = []
    sent = 0
    injected = attacks(rng, all_orgs, days, per_hour)
    grants = [
        AccessGrantCreated.create(
            producer="consent",
            subject_id=o.slug,
            payload=AccessGrantPayload(
                grant_id=f"grant-{o.slug}",
                organisation=o.slug,
                data_categories=CATEGORIES,
                valid_from=START - timedelta(days=1),
                valid_until=START + timedelta(days=days + 1),
                created_by="admin",
                created_at=START - timedelta(days=1),
            ),
        )
        for o in all_orgs
    ]
    started = time.perf_counter()
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        await service.on_grants(runtime.sessions, runtime.watch, grants)
        for hour in hours:
            batch = hourly(rng, all_orgs, hour, per_hour)
            for attack in injected:
                batch += [
                    e
                    for e in attack.events
                    if hour <= e.payload.accessed_at < hour + timedelta(hours=1)
                ]
            batch.sort(key=lambda e: e.payload.accessed_at)
            await clock.freeze(hour + timedelta(hours=1))
            for i in range(0, len(batch), BATCH):
                t0 = time.perf_counter()
                await service.on_disclosures(
                    runtime.sessions, runtime.watch, runtime.clock, batch[i : i + BATCH]
                )
                timings.append(time.perf_counter() - t0)
            sent += len(batch)
            if hour.hour == 23:
                print(f"day {(hour - START).days + 1}: {sent:,} disclosures", file=sys.stderr)
        elapsed = time.perf_counter() - started
        async with runtime.sessions() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT organisation_id, rule, payload->>'window_start', "
                        "payload->>'window_end', payload->>'summary', incident_id "
                        "FROM alerts ORDER BY detected_at"
                    )
                )
            ).all()
    engine = create_engine(DATABASE_URL, schema, pool_size=1)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()
    await drop_topics(f"{schema}.")

    attacked = {a.org: a for a in injected}
    found: dict[str, set[str]] = {a.name: set() for a in injected}
    false_positive: Counter[str] = Counter()
    false_incidents: set[Any] = set()
    examples: list[str] = []
    for org, rule, window_start, window_end, summary, incident in rows:
        target = attacked.get(org)
        # About the attack: its organisation, a window that overlaps the attack's.
        start, end = datetime.fromisoformat(window_start), datetime.fromisoformat(window_end)
        if target and start <= target.end and end >= target.start:
            found[target.name].add(rule)
        else:
            false_positive[f"{org}:{rule}"] += 1
            false_incidents.add(incident)
            examples.append(f"    {summary}")
    timings.sort()
    print(
        f"disclosures {sent:,} over {days} days, {len(all_orgs)} organisations, "
        f"{elapsed:.0f} s ({sent / elapsed:,.0f}/s through the use case)"
    )
    print(
        f"false positives: {len(false_incidents)} incidents, "
        f"{sum(false_positive.values())} alerts {dict(false_positive)}"
    )
    print("\n".join(examples[:12]))
    print(f"attacked: {', '.join(f'{a.name} {a.org}' for a in injected)}")
    for name, rules in found.items():
        print(f"  {name:18} {'found by ' + ', '.join(sorted(rules)) if rules else 'MISSED'}")
    rate = sum(1 for r in found.values() if r) / len(found)
    print(f"detection rate {rate:.0%}")
    print(
        f"batch judged and committed: p50 {statistics.median(timings) * 1000:.0f} ms, "
        f"p99 {timings[int(len(timings) * 0.99) - 1] * 1000:.0f} ms ({len(timings)} batches)"
    )


def main() -> None:
    disclosures = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    asyncio.run(run(disclosures, days))


if __name__ == "__main__":
    main()
