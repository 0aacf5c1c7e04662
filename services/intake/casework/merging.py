"""A dispatcher's merge of two reports of one matter, and unlinking a suspected duplicate.

Merge: `case_no` becomes `merged`, `merged_into` is set, and the surviving case takes over the
reply/callback duty of the merged case's channel plus any duties it had taken over (`duties`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from hub.contracts.intake import CaseDuplicateUnlinkedV1, CaseMergedV1, ChannelDuty
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor
from services.intake.audit_trail import record
from services.intake.casework.guards import conflict, lock_case, not_found, reload_case, require_open
from services.intake.domain.pii import redact_free_text
from services.intake.scoping import cases_visible
from services.intake.tables import cases


async def merge_case(rt: ServiceRuntime, case_no: str, *, into: str, reason: str | None, actor: Actor) -> Any:
    now = datetime.now(UTC)
    reason = redact_free_text(reason) if reason else None
    async with rt.db.transaction() as session:
        # Both rows locked in one statement, in key order, so two opposite merges cannot deadlock.
        rows = {
            r.case_no: r
            for r in await session.execute(
                select(cases)
                .where(cases.c.case_no.in_({case_no, into}), cases_visible(actor))
                .order_by(cases.c.case_no)
                .with_for_update()
            )
        }
        row = rows.get(case_no)
        if row is None:
            raise not_found(case_no)
        if into == case_no:
            raise conflict(row, f"事项 {case_no} 不能合并到自身")
        if row.status == "merged":
            raise conflict(row, f"事项 {case_no} 已合并到 {row.merged_into}")
        require_open(row, "合并")
        target = rows.get(into)
        if target is None:
            raise Problem(
                422,
                "请求内容有误",
                f"合并目标 {into} 不存在",
                type_="validation-error",
                errors=[{"field": "into", "message": f"no case {into}"}],
            )
        if target.status == "merged":
            raise conflict(
                target, f"目标事项 {into} 已合并到 {target.merged_into}，请合并到 {target.merged_into}"
            )
        require_open(target, "接收合并")
        moved = [
            ChannelDuty(
                case_no=case_no,
                channel=row.channel,
                source_ref=row.source_ref,
                due_by=row.due_by,
                due_by_source=row.due_by_source,
            ),
            *(ChannelDuty.model_validate(d) for d in row.duties or []),
        ]
        moved_json = [d.model_dump(mode="json") for d in moved]
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case_no)
            .values(status="merged", merged_into=into, merged_at=now, duties=None)
        )
        await session.execute(
            update(cases).where(cases.c.case_no == into).values(duties=[*(target.duties or []), *moved_json])
        )
        event = CaseMergedV1(
            case_no=case_no,
            into=into,
            channel=row.channel,
            source_ref=row.source_ref,
            duties=moved,
            reason=reason,
            actor_role=actor.role,
            actor_id=actor.id,
            merged_at=now,
        )
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        await record(
            rt,
            session,
            actor,
            "case.merged",
            case_no,
            {
                "into": into,
                "was_duplicate_of": row.duplicate_of,
                "duties_moved": moved_json,
                "reason": reason,
            },
        )
        await record(
            rt, session, actor, "case.duties_received", into, {"from": case_no, "duties": moved_json}
        )
        return await reload_case(session, case_no)


async def unlink_duplicate(rt: ServiceRuntime, case_no: str, *, reason: str | None, actor: Actor) -> Any:
    now = datetime.now(UTC)
    reason = redact_free_text(reason) if reason else None
    async with rt.db.transaction() as session:
        row = await lock_case(session, case_no, actor)
        if row.status == "merged":
            raise conflict(row, f"事项 {case_no} 已合并到 {row.merged_into}，合并后不能解除关联")
        if row.duplicate_of is None:
            raise conflict(row, f"事项 {case_no} 没有疑似重复关联可解除")
        await session.execute(update(cases).where(cases.c.case_no == case_no).values(duplicate_of=None))
        event = CaseDuplicateUnlinkedV1(
            case_no=case_no,
            was_duplicate_of=row.duplicate_of,
            reason=reason,
            actor_role=actor.role,
            actor_id=actor.id,
            unlinked_at=now,
        )
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        await record(
            rt,
            session,
            actor,
            "case.duplicate_unlinked",
            case_no,
            {"was_duplicate_of": row.duplicate_of, "reason": reason},
        )
        return await reload_case(session, case_no)
