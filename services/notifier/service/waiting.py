"""Notices whose recipient is not known yet wait here, and are not lost.

A person's address comes on ``user.*`` topics and an organisation's privacy contact on
``organisation.*`` topics, from other services: either may be read after the request
that needs it. A waiting notice is looked up again, with every other one waiting, every
``poll`` seconds until its grace period ends on the service's clock; then it fails with
reason ``no_contact``. Its batch's offsets are not committed while it waits, so a crash
meanwhile loses nothing: the request is read again and waits again.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier import repository
from services.notifier.domain import Reason, Recipient
from shared.db import Sessions
from shared.logging import get_logger

log = get_logger(__name__)
Answer = Recipient | Reason
Lookup = Callable[[AsyncSession, Sequence[str]], Awaitable[dict[str, Answer]]]


async def people(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, Answer]:
    """People's addresses, or ``erased`` for those erased meanwhile."""
    known, erased = await repository.recipients(session, user_ids)
    return {**known, **dict.fromkeys(erased, Reason.ERASED)}


async def organisations(session: AsyncSession, slugs: Sequence[str]) -> dict[str, Answer]:
    """Organisations' privacy contacts, for those that have one."""
    return dict(await repository.organisation_contacts(session, slugs))


class ContactWaiter:
    """Waits for the contacts of many notices at once, looked up together."""

    def __init__(
        self,
        sessions: Sessions,
        lookup: Lookup,
        *,
        grace: float,
        poll: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.lookup = lookup
        self.grace = timedelta(seconds=grace)
        self.poll = poll
        self.clock = clock
        self._pending: dict[str, list[tuple[asyncio.Future[Answer], datetime]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def wait(self, key: str) -> Answer:
        """The contact for ``key``, or why there is none (erased, or still unknown)."""
        if not self.grace:
            return Reason.NO_CONTACT
        found: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        entry = (found, self.clock() + self.grace)
        self._pending.setdefault(key, []).append(entry)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        try:
            return await found
        finally:
            waiters = self._pending.get(key, [])
            if entry in waiters:
                waiters.remove(entry)
            if not waiters:
                self._pending.pop(key, None)

    async def _run(self) -> None:
        while self._pending:
            await asyncio.sleep(self.poll)
            keys = list(self._pending)
            try:
                async with self.sessions() as session:
                    answers = await self.lookup(session, keys)
            except Exception as exc:  # nobody's grace ends on a lookup that failed
                log.warning("notifier.contact_lookup_failed", error=repr(exc))
                continue
            now = self.clock()
            for key in keys:
                answer = answers.get(key)
                for found, deadline in self._pending.get(key, []):
                    if found.done():
                        continue
                    if answer is not None:
                        found.set_result(answer)
                    elif now >= deadline:
                        found.set_result(Reason.NO_CONTACT)

    async def close(self) -> None:
        """Stop looking up; whoever still waits is sent after a restart."""
        if self._task is not None:
            self._task.cancel()
