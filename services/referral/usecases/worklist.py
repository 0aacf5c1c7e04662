"""The worklist (待办): follow-ups and weak signals become tasks for the responsible centre, once each.

- A follow-up that falls due becomes a task in the watchdog's own transaction (the one that says
  ``case.follow_up_due.v1``), for the centre holding the case.
- Each live registration is seen by early warning in the transaction that handles its
  ``case.registered.v1`` (with its inbox row): the case is written to ``signal_sightings`` and placed
  (:func:`services.referral.domain.signals.place`) for its grid, its street and its reporter; a
  signal becomes ONE task per key and window, and later cases in the window only grow it (the
  sighting names the task holding it, and the task's count goes up by one: no list is rewritten).
- Staff mark a task done or snooze it (audited: who, when, the note with phone and ID numbers
  masked); a snoozed task is open again once its ``until`` has passed.

Every new task says ``referral.task_created.v1`` (outbox, same transaction): notification sends one
SMS or department message to the contact configured for the centre and kind.

Concurrency: the cases of one signal key are placed one transaction at a time — on PostgreSQL a
transaction-scoped advisory lock per key, taken in key order before anything is read; SQLite has one
writer anyway — and ``dedup_key`` is unique, so two replicas never raise the same task twice.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit
from hub.contracts.intake import CaseRegisteredV1
from hub.contracts.referral import CaseFollowUpDueV1, TaskCreatedV1, TaskDoneV1, TaskSnoozedV1
from hub.upsert import upsert
from services.referral import scoping
from services.referral.actors import SYSTEM, Actor
from services.referral.domain.centres import Centre, redact_reason
from services.referral.domain.signals import (
    Join,
    Raise,
    Scope,
    Seen,
    SignalPolicy,
    Window,
    burst_keys,
    place,
)
from services.referral.domain.tasks import (
    TASK_MACHINE,
    SnoozeRefused,
    TaskAction,
    TaskKind,
    TaskState,
    check_snooze,
    effective_status,
)
from services.referral.errors import InvalidRequest, NotFound, field_error
from services.referral.store import Record
from services.referral.tables import audit_log, signal_sightings, task_actions, tasks
from services.referral.usecases.context import Context

DEFAULT_MAX_SNOOZE = timedelta(days=90)
AfterDone = Callable[[AsyncSession, Row[Any], datetime], Awaitable[None]]


@dataclass(frozen=True)
class _Key:
    """One signal key of a new case: what it is counted with, and by which rule."""

    signal_key: str
    kind: TaskKind
    window: timedelta
    threshold: int
    holder: str  # the signal_sightings column naming the task that holds a case for this key
    scope: Scope | None = None
    area: str | None = None
    category: str | None = None
    reporter_key: str | None = None


class Worklist:
    def __init__(
        self,
        ctx: Context,
        *,
        policy: SignalPolicy | None = None,
        max_snooze: timedelta = DEFAULT_MAX_SNOOZE,
    ) -> None:
        self.ctx = ctx
        self.policy = policy  # None: early warning raises no tasks (follow-ups still do)
        self.max_snooze = max_snooze
        # What follows a task of a kind being done, in the same transaction (a key person's next visit).
        self.after_done: dict[TaskKind, AfterDone] = {}

    def clock(self) -> datetime:
        return self.ctx.clock()

    # --- follow-ups (三色管理) -------------------------------------------------------------------

    async def follow_up_due(self, session: AsyncSession, case: Record, due: CaseFollowUpDueV1) -> str | None:
        """The follow-up the watchdog just said is due, as a task for the centre holding the case."""
        centre = self.ctx.centre_of(case) or self._root()
        return await self._create(
            session,
            kind=TaskKind.follow_up,
            dedup_key=f"follow_up:{case.case_no}:{due.sequence}",
            centre=centre,
            case_no=case.case_no,
            case_count=1,
            due_at=due.scheduled_at,
            category=case.category,
            colour=due.colour,
            cadence=due.cadence,
            sequence=due.sequence,
            grid=getattr(
                case, "grid_code", None
            ),  # a case of a grid: its worker visits too (GET /api/v1/grid/tasks)
        )

    # --- weak signals (弱信号) ---------------------------------------------------------------------

    async def case_registered(self, session: AsyncSession, case: CaseRegisteredV1) -> list[str]:
        """Early warning sees a newly registered case; returns the ids of tasks it raised."""
        if self.policy is None:
            return []
        keys = self._keys(case)
        await _lock(session, [k.signal_key for k in keys])
        inserted = await session.execute(
            upsert(session, signal_sightings, ["case_no"])
            .values(
                case_no=case.case_no,
                registered_at=case.registered_at,
                category=case.category,
                street_code=case.street_code,
                grid_code=case.grid_code,
                reporter_key=case.reporter_key,
            )
            .returning(signal_sightings.c.case_no)
        )
        if inserted.first() is None:
            return []  # seen already (the same case under another event id)
        new = Seen(case.case_no, case.registered_at)
        centre = self.ctx.config.centres.home_for(case.street_code) or self._root()
        raised: list[str] = []
        in_grid_burst = False
        for key in keys:
            if key.scope is Scope.street and in_grid_burst:
                continue  # one cluster in one grid is one task, not a grid task and a street task
            task_id, created = await self._place(session, key, new, case, centre)
            if task_id is None:
                continue
            if created:
                raised.append(task_id)
            if key.scope is Scope.grid:
                in_grid_burst = True
        return raised

    def _keys(self, case: CaseRegisteredV1) -> list[_Key]:
        assert self.policy is not None
        p = self.policy
        keys = [
            _Key(
                f"{scope.value}:{area}:{category}",
                TaskKind.weak_signal_burst,
                p.burst_window,
                p.burst_threshold,
                f"{scope.value}_task_id",
                scope=scope,
                area=area,
                category=category,
            )
            for scope, area, category in burst_keys(case.category, case.street_code, case.grid_code)
        ]
        if case.reporter_key:
            keys.append(
                _Key(
                    f"reporter:{case.reporter_key}",
                    TaskKind.repeat_reporter,
                    p.repeat_window,
                    p.repeat_threshold,
                    "reporter_task_id",
                    reporter_key=case.reporter_key,
                )
            )
        return keys

    async def _place(
        self, session: AsyncSession, key: _Key, new: Seen, case: CaseRegisteredV1, centre: Centre
    ) -> tuple[str | None, bool]:
        """Place the new case for one key: (the task holding it, whether that task is new)."""
        near_from, near_to = new.at - key.window, new.at + key.window
        windows = [
            Window(r.id, r.window_start, r.window_end)
            for r in await session.execute(
                select(tasks.c.id, tasks.c.window_start, tasks.c.window_end).where(
                    tasks.c.signal_key == key.signal_key,
                    tasks.c.window_start <= near_to,
                    tasks.c.window_end >= near_from,
                )
            )
        ]
        free = [
            Seen(r.case_no, r.registered_at)
            for r in await session.execute(self._free(key, near_from, near_to, new))
        ]
        placed = place(new, free, windows, window=key.window, threshold=key.threshold)
        if isinstance(placed, Join):
            await session.execute(
                update(tasks)
                .where(tasks.c.id == placed.task_id)
                .values(case_count=tasks.c.case_count + 1, case_no=new.case_no, updated_at=self.clock())
            )
            await _hold(session, key, placed.task_id, [new.case_no])
            return placed.task_id, False
        if isinstance(placed, Raise):
            task_id = await self._raise(session, key, placed, case, centre)
            if task_id is not None:
                await _hold(session, key, task_id, [s.case_no for s in placed.cases])
            return task_id, task_id is not None
        return None, False

    @staticmethod
    def _free(key: _Key, since: datetime, until: datetime, new: Seen) -> Any:
        """The key's cases near the new one that no task holds for it yet."""
        s = signal_sightings
        query = select(s.c.case_no, s.c.registered_at).where(
            s.c.registered_at >= since,
            s.c.registered_at <= until,
            s.c.case_no != new.case_no,
            s.c[key.holder].is_(None),
        )
        if key.scope is Scope.grid:
            return query.where(s.c.grid_code == key.area, s.c.category == key.category)
        if key.scope is Scope.street:
            # Cases a grid burst already holds are not counted again for their street.
            return query.where(
                s.c.street_code == key.area, s.c.category == key.category, s.c.grid_task_id.is_(None)
            )
        return query.where(s.c.reporter_key == key.reporter_key)

    async def _raise(
        self, session: AsyncSession, key: _Key, placed: Raise, case: CaseRegisteredV1, centre: Centre
    ) -> str | None:
        tree = self.ctx.config.centres
        area_name = tree.centres[key.area].name_zh if key.area and key.area in tree.centres else None
        return await self._create(
            session,
            kind=key.kind,
            dedup_key=f"{key.signal_key}@{placed.start.isoformat()}",
            centre=centre,
            case_no=case.case_no,
            case_count=len(placed.cases),
            due_at=self.clock(),
            category=key.category,
            signal_key=key.signal_key,
            scope=key.scope,
            area=key.area,
            area_name=area_name,
            reporter_key=key.reporter_key,
            window_start=placed.start,
            window_end=placed.end,
        )

    # --- creating -----------------------------------------------------------------------------------

    async def create(self, session: AsyncSession, **task: Any) -> str | None:
        """A task another use case decides on (the centre's grid visit: usecases/grid.py; a key person's
        visit): once per dedup key, said as the others."""
        return await self._create(session, **task)

    def _root(self) -> Centre:
        return self.ctx.config.centres.roots[0]

    async def _create(
        self,
        session: AsyncSession,
        *,
        kind: TaskKind,
        dedup_key: str,
        centre: Centre,
        case_no: str,
        case_count: int,
        due_at: datetime,
        area_name: str | None = None,
        actor: Actor | None = None,
        **columns: Any,
    ) -> str | None:
        """Insert the task once (None when its dedup key exists already) and say so."""
        now = self.clock()
        task_id = str(uuid.uuid4())
        inserted = await session.execute(
            upsert(session, tasks, ["dedup_key"])
            .values(
                id=task_id,
                kind=kind.value,
                dedup_key=dedup_key,
                centre_id=centre.id,
                status=TaskState.open.value,
                case_no=case_no,
                case_count=case_count,
                due_at=due_at,
                created_at=now,
                updated_at=now,
                **{k: (v.value if isinstance(v, Scope) else v) for k, v in columns.items()},
            )
            .returning(tasks.c.id)
        )
        if inserted.first() is None:
            return None
        await session.execute(
            task_actions.insert().values(
                task_id=task_id,
                action="created",
                at=now,
                actor_role=(actor or SYSTEM).role,
                actor_id=actor.id if actor else None,
            )
        )
        tree = self.ctx.config.centres
        event = TaskCreatedV1(
            task_id=task_id,
            kind=kind.value,
            centre_id=centre.id,
            centre_path=[centre.id, *(c.id for c in tree.ancestors(centre))],
            case_no=case_no,
            due_at=due_at,
            case_count=case_count,
            category=columns.get("category"),
            # A case's colour (follow-ups); a key person's colour is the registry's scheme, not a case's.
            colour=columns.get("colour") if kind is TaskKind.follow_up else None,
            cadence=columns.get("cadence"),
            sequence=columns.get("sequence"),
            window_start=columns.get("window_start"),
            window_end=columns.get("window_end"),
            scope=columns["scope"].value if columns.get("scope") else None,
            area=columns.get("area"),
            area_name=area_name,
            grid=columns.get("grid"),
        )
        # A person's decision (a grid visit the centre sends): the timeline names them by user id.
        person = {"person_id": actor.id} if actor is not None and actor.kind == "user" else {}
        await self.ctx.emit(session, event, actor or SYSTEM, **person)
        return task_id

    # --- staff actions --------------------------------------------------------------------------------

    async def task_or_404(
        self, session: AsyncSession, task_id: str, actor: Actor, *, lock: bool = False
    ) -> Row[Any]:
        """The task, if the actor may see it (a centre's worklist: its subtree's tasks)."""
        query = select(tasks).where(tasks.c.id == task_id, scoping.tasks_visible(actor))
        row = (await session.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            raise NotFound("task-not-found", "未找到该待办", f"没有编号为 {task_id} 的待办事项")
        return row

    async def done(self, session: AsyncSession, task_id: str, note: str, actor: Actor) -> None:
        await self._act(session, task_id, TaskAction.done, actor, note, None)

    async def snooze(
        self, session: AsyncSession, task_id: str, until: datetime, note: str | None, actor: Actor
    ) -> None:
        await self._act(session, task_id, TaskAction.snooze, actor, note, until)

    async def _act(
        self,
        session: AsyncSession,
        task_id: str,
        action: TaskAction,
        actor: Actor,
        note: str | None,
        until: datetime | None,
    ) -> None:
        actor.require("centre")
        row = await self.task_or_404(session, task_id, actor, lock=True)
        now = self.clock()
        current = effective_status(row.status, row.snoozed_until, now)
        target = TASK_MACHINE.apply(current, action)  # TransitionRefused: 409 naming state and actions
        if until is not None:
            try:
                check_snooze(until, now, self.max_snooze)
            except SnoozeRefused as exc:
                raise InvalidRequest(
                    "推迟时间不正确", str(exc), errors=[field_error("until", str(exc))]
                ) from None
        masked = redact_reason(note.strip()) if note and note.strip() else None
        values: dict[str, Any] = {"status": target.value, "updated_at": now}
        if action is TaskAction.done:
            values["done_at"] = now
        else:
            values["snoozed_until"] = until
        await session.execute(update(tasks).where(tasks.c.id == task_id).values(**values))
        who = actor.id or actor.department
        await session.execute(
            task_actions.insert().values(
                task_id=task_id,
                action=target.value,
                at=now,
                actor_role=actor.role,
                actor_id=who,
                note=masked,
                until=until,
            )
        )
        event: TaskDoneV1 | TaskSnoozedV1
        if action is TaskAction.done:
            event = TaskDoneV1(
                task_id=task_id, kind=row.kind, centre_id=row.centre_id, case_no=row.case_no, done_at=now
            )
        else:
            assert until is not None
            event = TaskSnoozedV1(
                task_id=task_id, kind=row.kind, centre_id=row.centre_id, case_no=row.case_no, until=until
            )
        await self.ctx.emit(session, event, actor)
        follow = self.after_done.get(TaskKind(row.kind)) if action is TaskAction.done else None
        if follow is not None:
            await follow(session, row, now)
        await audit.append(  # last in the transaction (hub/audit.py)
            session,
            audit_log,
            key=self.ctx.audit_key,
            actor_role=actor.role,
            actor_id=who,
            actor_kind=actor.kind,
            actor_name=actor.name,
            action=f"task.{target.value}",
            case_no=row.case_no,
            detail={
                "task_id": task_id,
                "kind": row.kind,
                "centre_id": row.centre_id,
                "from": current.value,
                "note": masked,
                "until": until.isoformat() if until else None,
            },
            at=now,
        )


async def _hold(session: AsyncSession, key: _Key, task_id: str, case_nos: Sequence[str]) -> None:
    """The task holds these cases for the key (its case list; for a grid: not counted for the street)."""
    column = signal_sightings.c[key.holder]
    await session.execute(
        update(signal_sightings)
        .where(signal_sightings.c.case_no.in_(list(case_nos)), column.is_(None))
        .values({key.holder: task_id})
    )


async def _lock(session: AsyncSession, keys: Sequence[str]) -> None:
    """PostgreSQL: one transaction-scoped advisory lock per signal key, in key order (no deadlock);
    released at commit. SQLite: the write transaction is exclusive already."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        digest = hashlib.sha256(f"hub-signal:{key}".encode()).digest()
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": int.from_bytes(digest[:8], "big", signed=True)}
        )
