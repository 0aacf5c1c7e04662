"""Referral's own tables: the case life cycle after registration, referrals, deadlines, the kit's tables.

`deadlines` holds every time limit the watchdog walks (acknowledge, handling, meeting, acceptance) and
the follow-up schedules of closed cases (三色管理), each with what it was computed from (procedure id
and version, limit, start, approved extension; pauses are the referral's `suspensions`) so it can be
recomputed when an official holiday schedule arrives. `next_check_at` is the instant the watchdog must
look at a row again; it is NULL for everything finished, paused or without a ladder, and the partial
index on it is all the watchdog reads: its cost does not grow with the number of closed cases.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from hub.audit import define_audit_table
from hub.messaging.tables import BigId, define_kit_tables
from hub.utc import UtcDateTime

metadata = MetaData()
kit = define_kit_tables(metadata)
audit_log = define_audit_table(metadata)

cases = Table(
    "cases",
    metadata,
    Column("case_no", String(32), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("category", String(64), nullable=False),
    Column("colour", String(16), nullable=False),
    # The level deadlines are computed with: intake's level, raised to at least time-limited when two
    # or more departments take part (RULES.md "135").
    Column("response_level", String(32), nullable=False),
    Column("intake_response_level", String(32), nullable=False),
    Column("street_code", String(12)),
    Column("grid_code", String(64)),  # the grid (网格) the case was reported in, if any (referral_0009_grid)
    Column("anonymous", Boolean, nullable=False, default=False),
    Column("manual_reason", Text),  # set while the case waits in the dispatcher's queue
    Column("round", Integer, nullable=False, default=1),  # dispatch round: a reopened case is round 2
    Column("trace_id", String(32)),  # the case's root trace (from registration)
    Column("traceparent", String(64)),  # where later work (a deadline firing) links to
    Column("reply_outcome", String(32)),  # the lead department's latest reply
    Column("replied_at", UtcDateTime()),
    Column("satisfaction", String(32)),
    Column("callback_comment", Text),
    Column("rated_at", UtcDateTime()),
    Column("close_reason", String(64)),
    Column("closed_at", UtcDateTime()),
    Column("merged_into", String(32)),
    Column("withdraw_reason", Text),
    Column("referred_onward_to", String(32)),
    Column("referred_onward_at", UtcDateTime()),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # Tiered centres (分级调处): the centre holding the case (its area code, centres.yaml), where the
    # case was finally resolved, and when a red case was put before the district centre.
    Column("centre_id", String(12)),
    Column("resolved_centre_id", String(12)),
    Column("resolved_level", String(16)),  # community | street | district
    Column("district_alerted_at", UtcDateTime()),
    # An obligation the channel holds us to (12345's 办理时限 limitTime) and whose it is
    # ("hotline12345.limitTime"): the lead's handling deadline is never later. Moves when the channel
    # approves an extension (延期申请).
    Column("due_by", UtcDateTime()),
    Column("due_by_source", String(64)),
    # 回退: the centre gave the case back to the channel it came from (not ours), with a reason code.
    Column("channel_return_code", String(32)),
    Column("channel_return_reason", Text),
    Index("ix_cases_centre", "centre_id"),
    Index("ix_cases_registered_at", "registered_at"),  # statistics by period
)

referrals = Table(
    "referrals",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_no", String(32), ForeignKey("cases.case_no"), nullable=False),
    Column("round", Integer, nullable=False, default=1),
    Column("department", String(100), nullable=False),  # unit code, e.g. police_station@150203001000
    Column("department_name", String(200), nullable=False, default=""),
    Column("role", String(16), nullable=False),  # lead | assisting
    Column("status", String(32), nullable=False),
    Column("suspended", Boolean, nullable=False, default=False),
    Column("procedure_id", String(32), nullable=False),
    Column("procedure_version", Integer, nullable=False),
    Column("response_level", String(32), nullable=False),
    Column("rule_id", String(64)),  # the routing rule, or NULL for a manual dispatch
    Column("dispatched_at", UtcDateTime(), nullable=False),
    Column("ack_due_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("return_until", UtcDateTime(), nullable=False),
    Column("deadline_provisional", Boolean, nullable=False, default=False),
    Column("supervision_level", String(16), nullable=False, default="none"),
    Column("acknowledged_at", UtcDateTime()),
    Column("replied_at", UtcDateTime()),
    Column("reply_outcome", String(32)),
    Column("reply_summary", Text),
    Column("returned_at", UtcDateTime()),
    Column("return_reason_code", String(32)),
    Column("return_reason", Text),
    Column("cancelled_at", UtcDateTime()),
    Column("cancel_reason", String(32)),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("centre_id", String(12)),  # the centre that dispatched it
    # The procedure as it was when the referral was dispatched (deadlines keep the rules they started
    # under even when procedures.yaml changes); NULL for referrals dispatched before this column.
    Column("procedure_snapshot", JSON),
    Index("ix_referrals_case", "case_no"),
    Index("ix_referrals_department_status", "department", "status"),
    Index("ix_referrals_status_updated", "status", "updated_at"),  # idle detection (ops)
)

deadlines = Table(
    "deadlines",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_no", String(32), ForeignKey("cases.case_no"), nullable=False),
    Column("referral_id", String(36), ForeignKey("referrals.id")),  # NULL for a case's follow-ups
    Column("department", String(100)),
    # acknowledge | handling | meeting | acceptance (the supervision ladder), return_window (no ladder),
    # follow_up (三色管理 schedule of a closed case)
    Column("kind", String(16), nullable=False),
    Column("procedure_id", String(32)),
    Column("procedure_version", Integer),
    Column("limit_text", String(32)),  # "7 working_days", "30 minutes"; for follow_up: the cadence
    Column("started_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),  # for follow_up: the end of the period
    Column("extension", Integer, nullable=False, default=0),  # approved, in the limit's unit
    Column("provisional", Boolean, nullable=False, default=False),
    Column("provisional_years", JSON, nullable=False, default=list),
    Column("status", String(16), nullable=False, default="open"),  # open | met | closed
    Column("met_at", UtcDateTime()),
    Column("supervision_level", String(16), nullable=False, default="none"),
    Column("follow_up_seq", Integer, nullable=False, default=0),  # follow-ups fired so far
    Column("next_check_at", UtcDateTime()),
    Column("claimed_until", UtcDateTime()),
    Column("claim_token", String(36)),
    Column("updated_at", UtcDateTime(), nullable=False),
    # A lead's handling deadline under an external limit: due_at = the earlier of ours (own_due_at)
    # and theirs (external_due_at, from external_source), never before floor_at (the acknowledge
    # deadline). NULL external: ours alone.
    Column("own_due_at", UtcDateTime()),
    Column("external_due_at", UtcDateTime()),
    Column("external_source", String(64)),
    Column("floor_at", UtcDateTime()),
    Index("ix_deadlines_referral", "referral_id"),
    Index("ix_deadlines_case", "case_no"),
    # The watchdog's one index: only rows it must look at again are in it.
    Index(
        "ix_deadlines_next_check",
        "next_check_at",
        postgresql_where=text("next_check_at IS NOT NULL"),
        sqlite_where=text("next_check_at IS NOT NULL"),
    ),
    # Ops (stalled, overdue gauges): open deadlines past due, however many are closed.
    Index(
        "ix_deadlines_open_due",
        "due_at",
        postgresql_where=text("status = 'open'"),
        sqlite_where=text("status = 'open'"),
    ),
)

suspensions = Table(
    "suspensions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("referral_id", String(36), ForeignKey("referrals.id"), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime()),
    Column("reason", Text, nullable=False),
    Index("ix_suspensions_referral", "referral_id"),
)

extension_requests = Table(
    "extension_requests",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("referral_id", String(36), ForeignKey("referrals.id"), nullable=False),
    Column("amount", Integer, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("due_at_before", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime()),
    Column("approved", Boolean),
    Column("note", Text),
    Column("new_due_at", UtcDateTime()),
    Index("ix_extension_requests_referral", "referral_id"),
)

# The dispatcher's queue: one row per reason a case needs a person (no rule matched, a department
# returned its referral…), resolved by the next dispatch. Nothing is ever lost.
dispatch_queue = Table(
    "dispatch_queue",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_no", String(32), ForeignKey("cases.case_no"), nullable=False),
    Column("reason_code", String(32), nullable=False),  # no_rule | no_lead_unit | bad_area | returned | …
    Column("reason", Text, nullable=False),
    Column("referral_id", String(36)),
    Column("department", String(100)),
    Column("queued_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime()),
    Index("ix_dispatch_queue_case", "case_no"),
    Index(
        "ix_dispatch_queue_open",
        "queued_at",
        postgresql_where=text("resolved_at IS NULL"),
        sqlite_where=text("resolved_at IS NULL"),
    ),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_no", String(32), ForeignKey("cases.case_no"), nullable=False),
    Column("held_at", UtcDateTime(), nullable=False),
    Column("departments", JSON, nullable=False),
    Column("decisions", JSON, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Index("ix_meetings_case", "case_no"),
)

# 上报 (escalate to the parent centre) and 下派 (delegate to a centre below), each with its reason.
centre_moves = Table(
    "centre_moves",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_no", String(32), ForeignKey("cases.case_no"), nullable=False),
    Column("kind", String(16), nullable=False),  # assigned | escalated | delegated
    Column("from_centre", String(12)),
    Column("to_centre", String(12), nullable=False),
    Column("reason", Text),
    Column("actor_role", String(16), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_centre_moves_case", "case_no"),
)

# Official holiday schedules loaded at run time (`hub calendar load`, the console): one row per year.
holiday_schedules = Table(
    "holiday_schedules",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("source", Text, nullable=False),
    Column("holidays", JSON, nullable=False),  # ISO dates
    Column("workdays", JSON, nullable=False),  # make-up working days (调休上班), ISO dates
    Column("checksum", String(64), nullable=False),
    Column("loaded_at", UtcDateTime(), nullable=False),
    Column("actor_role", String(16), nullable=False),
)

# --- the worklist (issue 12): tasks for a centre, and what early warning has seen --------------------

# One row per task: a follow-up that fell due, or a weak signal. `dedup_key` makes each one once
# (follow_up:<case>:<n>, or <signal key>@<window start>); a weak signal's cases are the sightings that
# point at it, and each later one adds 1 to `case_count`. `due_at` is when it fell due; a snooze sets
# `snoozed_until` and the worklist orders by coalesce(snoozed_until, due_at). No personal data:
# codes, case numbers, a keyed hash.
tasks = Table(
    "tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "kind", String(24), nullable=False
    ),  # follow_up | weak_signal_burst | repeat_reporter | key_person_visit
    Column("dedup_key", String(200), nullable=False, unique=True),
    Column("centre_id", String(12), nullable=False),  # the centre responsible for it
    Column("status", String(16), nullable=False),  # open | snoozed | done
    # the follow-up's case, or the latest case of a signal; key_person_visit: the registry entry's id
    Column("case_no", String(32), nullable=False),
    Column("case_count", Integer, nullable=False, default=1),
    Column("category", String(64)),
    Column("colour", String(16)),  # follow_up
    Column("cadence", String(16)),  # follow_up: daily | weekly | monthly
    Column("sequence", Integer),  # follow_up: the n-th visit
    Column("signal_key", String(160)),  # weak signals: grid:<code>:<category> | street:… | reporter:<key>
    Column("scope", String(8)),  # burst: grid | street
    Column("area", String(64)),  # burst: the grid or street code
    Column("reporter_key", String(64)),  # repeat_reporter: hub.crypto.reporter_key, never a phone
    # The grid (网格) whose worker does it: a grid visit, a follow-up of a case reported in a grid, a key
    # person's visit. Its grid worker lists it (GET /api/v1/grid/tasks). Null: the centre's alone.
    Column("grid", String(64)),
    Column("window_start", UtcDateTime()),
    Column("window_end", UtcDateTime()),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("snoozed_until", UtcDateTime()),
    Column("done_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # key_person_visit: the registry entry (intake's key_persons.id); case_no holds it too (no case).
    Column("key_person_id", String(32)),
    Index("ix_tasks_centre_status", "centre_id", "status"),
    Index("ix_tasks_status_due", "status", "due_at"),
    Index("ix_tasks_signal_window", "signal_key", "window_start"),
    Index("ix_tasks_grid_status", "grid", "status", "due_at"),
)

# Grid workers' on-site check-ins (现场签到/走访) for tasks of their grid: when and where (the point the
# phone gave), what was found, the note (phone and ID numbers masked). The worker is named by user id.
grid_visits = Table(
    "grid_visits",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("task_id", String(36), ForeignKey("tasks.id"), nullable=False),
    Column("case_no", String(32), nullable=False),
    Column("grid", String(64), nullable=False),
    Column("actor_id", String(64)),
    Column("visited_at", UtcDateTime(), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("accuracy_m", Float),
    Column("outcome", String(16), nullable=False),  # resolved | verified | not_found | unreachable
    Column("note", Text, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Index("ix_grid_visits_task", "task_id"),
)

# What happened to a task, oldest first: created, snoozed (until, note), done (note). Notes are
# staff's free text with phone and ID numbers masked; ops never sees them.
task_actions = Table(
    "task_actions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("task_id", String(36), ForeignKey("tasks.id"), nullable=False),
    Column("action", String(16), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("actor_id", String(64)),
    Column("note", Text),
    Column("until", UtcDateTime()),
    Index("ix_task_actions_task", "task_id"),
)

# Every live registration as early warning sees it (no personal data: the reporter is a keyed hash),
# read through indexes bounded by time, so detection costs the same however much history there is.
# `*_task_id`: the task holding the case for its grid, street and reporter (a task's case list); a case
# a grid burst holds does not count towards a street burst.
signal_sightings = Table(
    "signal_sightings",
    metadata,
    Column("case_no", String(32), primary_key=True),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("category", String(64), nullable=False),
    Column("street_code", String(12)),
    Column("grid_code", String(64)),
    Column("reporter_key", String(64)),
    Column("grid_task_id", String(36)),
    Column("street_task_id", String(36)),
    Column("reporter_task_id", String(36)),
    Index("ix_signal_sightings_grid", "grid_code", "category", "registered_at"),
    Index("ix_signal_sightings_street", "street_code", "category", "registered_at"),
    Index("ix_signal_sightings_reporter", "reporter_key", "registered_at"),
    Index("ix_signal_sightings_grid_task", "grid_task_id"),
    Index("ix_signal_sightings_street_task", "street_task_id"),
    Index("ix_signal_sightings_reporter_task", "reporter_task_id"),
)


# The visit schedule of each key person or household (重点人员 / 七色户卡), as intake's
# key_person.follow_up.v1 says it: colour, cadence in working days, centre and grid. No personal data.
key_person_schedules = Table(
    "key_person_schedules",
    metadata,
    Column("key_person_id", String(32), primary_key=True),
    Column("version", Integer, nullable=False),  # the newest event applied (a late one is ignored)
    Column("colour", String(16), nullable=False),
    Column("colour_name_zh", String(16), nullable=False),
    Column("every_working_days", Integer, nullable=False),
    Column("centre_id", String(12), nullable=False),
    Column("grid_code", String(64)),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
