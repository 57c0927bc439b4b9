"""A local SMTP server for tests and the demo (aiosmtpd): keeps every message it accepts
in a Maildir, answers 4xx or 5xx on demand, and records how many sessions it held at once.

``python deploy/local/smtp_server.py --port 2525 --dir .local/smtp``

- Messages: ``DIR/new/<ns>.<n>.eml``, written to ``DIR/tmp`` first and renamed, so a
  reader never sees half a message. Two headers are put in front, as a delivery agent
  would: ``X-Envelope-From`` and ``X-Envelope-To``.
- Failures on demand: ``DIR/control.json`` holds rules, read again whenever it changes:
  ``{"rules": [{"match": "^bad-", "code": 550, "text": "5.1.1 no such user",
  "times": 3, "at": "rcpt"}]}``. A rule answers RCPT (``"at": "rcpt"``, the default) or
  DATA (``"at": "data"``) for recipients whose address matches the regular expression
  ``match``, ``times`` times (forever if absent), with ``code`` and ``text``.
- Limits: ``DIR/stats.json`` says ``sessions`` (open now), ``peak_sessions`` (the most at
  once since the start), ``connections`` and ``messages``; it is rewritten whenever a
  session opens or closes, and ``listening`` is true once the server accepts sessions.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class Rules:
    """The failure rules of ``control.json``, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._rules: list[dict[str, Any]] = []

    def _reload(self) -> None:
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            self._mtime, self._rules = None, []
            return
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                rules = json.loads(self.path.read_text()).get("rules", [])
                for rule in rules:
                    rule["regex"] = re.compile(rule.get("match", ""))
                self._rules = rules
            except (ValueError, OSError, re.error):
                self._rules = []

    def answer(self, address: str, at: str) -> str | None:
        """The failure reply for ``address`` at this stage, if a rule says so."""
        self._reload()
        for rule in self._rules:
            if rule.get("at", "rcpt") != at or not rule["regex"].search(address):
                continue
            times = rule.get("times")
            if times is not None:
                if times <= 0:
                    continue
                rule["times"] = times - 1
            return f"{int(rule.get('code', 451))} {rule.get('text', 'try again later')}"
        return None


class Store:
    """The Maildir, the rules and the counters."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        for sub in ("tmp", "new", "cur"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        self.rules = Rules(directory / "control.json")
        self.open: set[Any] = set()
        self.peak = 0
        self.connections = 0
        self.messages = 0
        self.listening = False
        self._names = itertools.count()

    @property
    def sessions(self) -> int:
        # A transport that closed without telling its protocol still counts as gone.
        self.open = {t for t in self.open if not t.is_closing()}
        return len(self.open)

    def opened(self, transport: Any) -> None:
        self.open.add(transport)
        self.connections += 1
        self.peak = max(self.peak, self.sessions)
        self.write_stats()

    def closed(self, transport: Any) -> None:
        self.open.discard(transport)
        self.write_stats()

    def write_stats(self) -> None:
        stats = {
            "sessions": self.sessions,
            "peak_sessions": self.peak,
            "connections": self.connections,
            "messages": self.messages,
            "listening": self.listening,
        }
        tmp = self.directory / f".stats.{os.getpid()}"
        tmp.write_text(json.dumps(stats))
        tmp.replace(self.directory / "stats.json")

    def keep(self, envelope: Envelope) -> str:
        queue_id = uuid.uuid4().hex[:12].upper()
        name = f"{time.time_ns()}.{next(self._names)}.eml"
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
            f"X-Queue-Id: {queue_id}\r\n"
        ).encode()
        content = envelope.original_content or b""
        tmp = self.directory / "tmp" / name
        tmp.write_bytes(head + content)
        tmp.rename(self.directory / "new" / name)
        self.messages += 1
        return queue_id


class Handler:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        failure = self.store.rules.answer(address, "rcpt")
        if failure:
            return failure
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for address in envelope.rcpt_tos:
            failure = self.store.rules.answer(address, "data")
            if failure:
                return failure
        return f"250 2.0.0 Ok: queued as {self.store.keep(envelope)}"


class CountingSMTP(SMTP):
    """aiosmtpd's SMTP protocol, counting the sessions open at once."""

    def __init__(self, handler: Handler, store: Store) -> None:
        super().__init__(handler, decode_data=False, ident="privacy-events local SMTP")
        self.store = store
        self._transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        self.store.opened(transport)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            self.store.closed(self._transport)


async def serve(host: str, port: int, directory: Path) -> None:
    store = Store(directory)
    store.write_stats()
    handler = Handler(store)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: CountingSMTP(handler, store), host, port)
    store.listening = True  # readers wait for this rather than probe the port, which would
    store.write_stats()  # count as a session
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SMTP_PORT", "2525")))
    parser.add_argument("--dir", type=Path, required=True, help="the Maildir")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.host, args.port, args.dir))


if __name__ == "__main__":
    main()
