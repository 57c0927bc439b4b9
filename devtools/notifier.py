"""An SMTP server a test or benchmark can kill and start again, and the notifier's
inputs as their producers publish them; tests and benchmarks share them from here."""

import asyncio
import email
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

from devtools.stack import KAFKA, ROOT, free_port, wait_until
from shared import events
from shared.events import (
    BreachNotificationRequested,
    NotificationRequestedPayload,
    UserErased,
    UserErasedPayload,
    UserRegistered,
    UserRegisteredPayload,
)
from shared.producers import create_producer

SERVER = ROOT / "deploy" / "local" / "smtp_server.py"


@dataclass
class SmtpServer:
    """deploy/local/smtp_server.py in a subprocess that a test can kill and start again."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, str(SERVER), "--port", str(self.port), "--dir", str(self.directory)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def start(self) -> None:
        self.process = self._spawn()
        stats = self.directory / "stats.json"
        stats.unlink(missing_ok=True)

        def listening() -> bool:
            try:
                return bool(json.loads(stats.read_text()).get("listening"))
            except (OSError, ValueError):
                return False

        await wait_until(listening, 20, "the SMTP server to listen")

    async def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            await asyncio.to_thread(self.process.wait, 10)
        self.process = None

    def rules(self, *rules: dict[str, Any]) -> None:
        """Answer failures on demand (see smtp_server.py's control.json)."""
        tmp = self.directory / "control.tmp"
        tmp.write_text(json.dumps({"rules": list(rules)}))
        os.replace(tmp, self.directory / "control.json")

    def messages(self) -> list[Message]:
        new = self.directory / "new"
        if not new.exists():
            return []
        return [email.message_from_bytes(p.read_bytes()) for p in sorted(new.iterdir())]

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages() if m["X-Envelope-To"] == address]

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = json.loads((self.directory / "stats.json").read_text())
        return stats


async def publish(prefix: str, *evs: events.Envelope) -> None:
    producer = create_producer(KAFKA, linger_ms=5)
    await producer.start()
    try:
        for event in evs:
            await producer.send(f"{prefix}{event.topic()}", event.to_bytes(), key=event.key())
        await producer.flush()
    finally:
        await producer.stop()


def registered(user_id: str, address: str, language: str = "en", name: str = "Ana Cruz") -> Any:
    return UserRegistered.create(
        producer="registry",
        subject_id=user_id,
        payload=UserRegisteredPayload(
            user_id=user_id, full_name=name, email=address, country="PH", language=language
        ),
    )


def erased(user_id: str) -> Any:
    return UserErased.create(
        producer="registry",
        subject_id=user_id,
        payload=UserErasedPayload(
            user_id=user_id, erased_at=datetime.now(UTC), requested_by="subject"
        ),
    )


def request(
    user_id: str,
    breach_id: str,
    reference: str = "BR-2026-0042",
    *,
    deadline_at: datetime | None = None,
    resend: int = 0,
) -> Any:
    """A breach notice as the breach service asks for it; its deadline 72 hours from now
    unless given (the notifier retries temporary failures until shortly before it)."""
    aware = datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
    return BreachNotificationRequested.create(
        producer="breach",
        subject_id=user_id,
        payload=NotificationRequestedPayload(
            notice_id=f"breach:{breach_id}:{user_id}",
            breach_id=breach_id,
            user_id=user_id,
            reference=reference,
            title="Exposed member list",
            what_happened="A member list was readable from a public link.",
            started_at=datetime(2026, 11, 17, 8, 0, tzinfo=UTC),
            ended_at=datetime(2026, 11, 19, 9, 0, tzinfo=UTC),
            aware_at=aware,
            data_categories=["full_name", "email_address"],
            likely_consequences="Phishing email that uses your name.",
            measures_taken="The link was removed and access logs reviewed.",
            what_you_can_do="Ignore email that asks for your password.",
            contact_point="dpo@platform.example",
            deadline_at=deadline_at or datetime.now(UTC) + timedelta(hours=72),
            resend=resend,
        ),
    )
