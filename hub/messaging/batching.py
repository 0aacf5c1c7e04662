"""Batch consumption: deliveries that are ready together are handled in one transaction.

Each delivery keeps its own task (the one aio-pika started for it, inside the message's consumer span
and trace context): it joins the group that is forming and, when its turn comes, runs its handler on
the group's session in its own context, so every span and outbox row carries its own message's trace
as before. The first member of a group leads it: it opens the transaction, closes the group (whatever
joined meanwhile: nothing waits for a batch to fill), claims every member's event id in the inbox in
one statement, passes the session to each member in delivery order, and commits once. Each member
then acks its own message (individual acks: other groups' deliveries interleave, so a `multiple` ack
could cover a message whose transaction has not committed).

A group of one is handled exactly as without batching (its errors are its own). In a larger group,
any failure (a handler raising Reject or RetryLater or anything else, the database away, a lock
conflict) rolls the whole transaction back and every member is handled again on its own, each in its
own transaction as without batching: the others of the batch are neither lost nor duplicated, and the
failing one meets the usual dead-letter, retry or hold. A crash before the commit redelivers every
member; a crash between the commit and the acks redelivers them and the inbox absorbs each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import Database
from hub.messaging.envelope import Event


class _MemberGone(Exception):
    """A member's task was cancelled before or while running its handler: the group cannot commit."""


class Alone(Enum):
    """Told to a member whose group failed: handle the event on its own, in its own transaction."""

    ALONE = "alone"


ALONE = Alone.ALONE
# Runs one member's handler on the group's session (in the member's task and context).
RunHandler = Callable[[AsyncSession, Event], Awaitable[None]]
# Claims the given (event id, event type) pairs in the inbox; returns the ids newly claimed.
ClaimMany = Callable[[AsyncSession, list[tuple[str, str]]], Awaitable[set[str]]]
# Handles a group of one in the transaction it is given: the consumer's own single-message path
# (inbox claim, handler, the failpoint before the commit).
HandleOne = Callable[[AsyncSession, Event, RunHandler], Awaitable[bool]]


@dataclass(eq=False)
class _Member:
    event: Event
    run: RunHandler
    # The leader hands over the session when it is this member's turn (None: no turn, a duplicate or
    # the group failed first); the member says when its handler is done (or raised).
    turn: asyncio.Future[AsyncSession | None] = field(default_factory=asyncio.Future)
    done: asyncio.Future[None] = field(default_factory=asyncio.Future)
    outcome: asyncio.Future[bool | Alone] = field(default_factory=asyncio.Future)


@dataclass(eq=False)
class _Group:
    members: list[_Member] = field(default_factory=list)
    open: bool = True


class Batcher:
    """Groups a consumer's concurrent deliveries into transactions of up to `size` events."""

    def __init__(
        self,
        db: Database,
        *,
        size: int,
        window_s: float,
        claim_many: ClaimMany,
        handle_one: HandleOne,
        before_commit: Callable[[], None],
        committed: Callable[[int], None] | None = None,
    ) -> None:
        self.db = db
        self.size = size
        self.window_s = window_s
        self._claim_many = claim_many
        self._handle_one = handle_one
        self._before_commit = before_commit
        self._committed = committed or (lambda _size: None)  # told each committed group's size
        self._forming: _Group | None = None
        self.batches = 0  # groups of more than one committed together (for tests and metrics)
        self.fallbacks = 0  # groups of more than one rolled back and handled one by one

    async def handle(self, event: Event, run: RunHandler) -> bool | Alone:
        """True if handled now, False if already handled (a redelivery), ALONE if the group failed and
        the caller must handle the event on its own. A group of one raises its handler's error."""
        member = _Member(event, run)
        group = self._forming
        if group is None or not group.open:
            group = self._forming = _Group()
        group.members.append(member)
        if len(group.members) >= self.size:
            self._close(group)
        if group.members[0] is member:
            return await self._lead(group, member)
        return await self._follow(member)

    def _close(self, group: _Group) -> None:
        group.open = False
        if self._forming is group:
            self._forming = None

    async def _follow(self, member: _Member) -> bool | Alone:
        try:
            session = await member.turn
            if session is not None:
                try:
                    await member.run(session, member.event)
                except asyncio.CancelledError:
                    _fail(member.done, _MemberGone())
                    raise
                except Exception as exc:
                    _fail(member.done, exc)
                else:
                    member.done.set_result(None)
            return await member.outcome
        finally:
            # Cancelled while waiting for its turn: the leader must not wait for it forever.
            if not member.done.done():
                _fail(member.done, _MemberGone())

    async def _lead(self, group: _Group, me: _Member) -> bool | Alone:
        # Let the deliveries already read from the socket join (their tasks run now), or wait the window.
        await asyncio.sleep(self.window_s)
        members: list[_Member] = []
        try:
            async with self.db.transaction() as session:
                # Whatever joined while the transaction was being opened (on SQLite: the write lock
                # awaited) is in; later arrivals form the next group.
                self._close(group)
                members = list(group.members)
                if len(members) == 1:
                    results = [await self._handle_one(session, me.event, me.run)]
                else:
                    claimed = await self._claim_many(session, [(m.event.id, m.event.type) for m in members])
                    results = await self._run_members(session, members, me, claimed)
                    if any(results):
                        self._before_commit()
        except BaseException as exc:
            self._close(group)  # failed before it closed (the transaction never opened): no more joiners
            for member in (members or group.members)[1:]:
                _settle(member, ALONE)
            if len(members) <= 1 or not isinstance(exc, Exception):
                # Alone, the error is its own, exactly as without batching (so is the database away
                # before the group closed: each member meets it alone); cancelled: not the events'.
                raise
            self.fallbacks += 1
            return ALONE
        self._committed(len(members))
        if len(members) > 1:
            self.batches += 1
        for member, handled in zip(members[1:], results[1:], strict=True):
            _settle(member, handled)
        return results[0]

    async def _run_members(
        self, session: AsyncSession, members: list[_Member], me: _Member, claimed: set[str]
    ) -> list[bool]:
        results: list[bool] = []
        for member in members:
            if member.event.id not in claimed:
                results.append(False)  # handled before (or twice in this group: the first one runs)
                if member is not me:
                    member.turn.set_result(None)
                continue
            claimed.discard(member.event.id)
            if member is me:
                await me.run(session, me.event)
            else:
                member.turn.set_result(session)
                await member.done
            results.append(True)
        return results


def _fail(done: asyncio.Future[None], exc: BaseException) -> None:
    done.set_exception(exc)
    done.exception()  # marked retrieved: the leader raises it if it still awaits it, else nobody cares


def _settle(member: _Member, outcome: bool | Alone) -> None:
    if not member.turn.done():
        member.turn.set_result(None)
    if not member.outcome.done():
        member.outcome.set_result(outcome)
