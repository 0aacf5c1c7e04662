"""Every /api/v1 route of the gateway, one row each (API.md): method, public path, operation name,
summary, the roles that may call it, and either where it goes (the service; its internal path
mirrors the public one under /internal/v1/) with which typed request, or which handler serves it.

gateway/routes/forwarding.py builds the FastAPI routes from these rows and gateway/authorization.py
the route × role permissions, so a route cannot exist without its roles. A path that is not here is
not a route, and an empty `roles` closes one to everybody. The endpoints that hand out tokens are outside
bearer auth and not listed: /api/v1/auth/token (gateway/routes/auth.py), /api/v1/auth/login and
/api/v1/auth/refresh (gateway/routes/accounts.py).
"""

from __future__ import annotations

from typing import Any

from gateway.auth.roles import ROLES, USER_ROLES
from gateway.routes import accounts, adapter_ops, cases, dead_letters, ops
from gateway.routes.spec import Method, Route, roles
from hub.contracts.http import grid, intake
from hub.contracts.http import key_persons as kp
from hub.contracts.http import referral as ref

# A supervisor (督办) may do whatever the centre may: every set naming the centre names it too.
CENTRE = roles("centre", "supervisor")
CENTRE_OPS = roles("centre", "supervisor", "ops")
CENTRE_ADAPTER = roles("centre", "supervisor", "adapter")
DEPARTMENT = roles("department")
DEPARTMENT_CENTRE = roles("department", "centre", "supervisor")
OPS_CENTRE = roles("ops", "centre", "supervisor")
OPS = roles("ops")
EVERYONE = roles(*ROLES)
PEOPLE = roles(*USER_ROLES)
GRID_WORKER = roles("grid_worker")  # 网格员: a named account bound to one grid (decision 0024)
GRID_READERS = roles("centre", "supervisor", "ops", "grid_worker")

CASE = "/api/v1/cases/{case_no}"
REFERRAL = "/api/v1/referrals/{referral_id}"
TASK = "/api/v1/tasks/{task_id}"
DEAD_LETTER = "/api/v1/ops/dead-letters/{dead_letter_id}"
KEY_PERSON = "/api/v1/key-persons/{key_person_id}"


def to_intake(method: Method, path: str, name: str, summary: str, who: frozenset[str], **kw: Any) -> Route:
    """Intake's casework (研判): the actor travels as the middleware set it."""
    kw.setdefault("actor", "role_and_id")
    return Route(method, path, name, summary, "cases", who, service="intake", **kw)


def to_referral(
    tag: str, method: Method, path: str, name: str, summary: str, who: frozenset[str], **kw: Any
) -> Route:
    """Referral's routes: the role (default centre) and department travel as headers."""
    return Route(method, path, name, summary, tag, who, service="referral", **kw)


def here(path: str, name: str, summary: str, handler: Any, tag: str, who: frozenset[str], **kw: Any) -> Route:
    """A GET the gateway answers itself."""
    return Route("GET", path, name, summary, tag, who, handler=handler, **kw)


RETURN_TO_CHANNEL = """The centre decides the case is not the hub's (until the lead has replied): the case ends as
`returned_to_channel`, its referrals are cancelled, and the channel hears it (12345: 回退,
feedbackType 7 with returnType)."""

# fmt: off
ROUTES: tuple[Route, ...] = (
    # ---- who am I, and signing out (named accounts: gateway/routes/accounts.py)
    here("/api/v1/auth/me", "get_me", "Who the bearer token speaks for (person, API client or the hub)",
         accounts.me, "auth", EVERYONE, response=accounts.MeOut),
    Route("POST", "/api/v1/auth/logout", "logout", "Sign out: the session's tokens are refused at once",
          "auth", PEOPLE, handler=accounts.logout, status_code=204),
    # ---- cases: registration and 研判 (intake)
    to_intake("POST", "/api/v1/cases", "post_case", "Register a case (受理)", CENTRE_ADAPTER,
              own="adapter_channel", status_code=201, idempotency_key=True, body=dict[str, Any],
              body_description="API.md: channel, request_type, title, description, …"),
    to_intake("POST", "/api/v1/cases/similar", "similar_cases",
              "Open cases that may be the same matter as a draft registration (read-only; phone in the body)",
              CENTRE, no_store=True, body=intake.SimilarIn),
    to_intake("POST", f"{CASE}/assessment", "post_assessment", "Supervisor override of the risk colour (audited)",
              CENTRE, body=intake.OverrideIn),
    to_intake("POST", f"{CASE}/category", "post_category", "Dispatcher corrects the category (audited, re-graded)",
              CENTRE, body=intake.CategoryIn),
    to_intake("POST", f"{CASE}/merge", "post_merge", "Merge a duplicate into another case (audited)",
              CENTRE, body=intake.MergeIn),
    to_intake("POST", f"{CASE}/unlink", "post_unlink", "Not a duplicate after all: clear the link (audited)",
              CENTRE, body=intake.UnlinkIn, body_required=False),
    to_intake("POST", f"{CASE}/notes", "post_note",
              "Add text to a case (a staff note): graded again with it read; may raise the colour (audited)",
              CENTRE_ADAPTER, own="adapter_case", body=intake.NoteIn),
    to_intake("POST", f"{CASE}/personal-data", "reveal_personal_data",
              "The reporter's personal data, decrypted (centre): {purpose} required, audited with the person, "
              "limited per person and hour", CENTRE, no_store=True, body=intake.RevealIn),
    # ---- cases: reading
    to_referral("cases", "GET", "/api/v1/cases", "list_cases",
                "Cases newest first: status, colour, category, street_code, overdue filters", CENTRE_OPS,
                query=ref.CaseListQuery),
    here(CASE, "get_case", "A case with its referrals, deadlines and supervision level", cases.get_case,
         "cases", CENTRE_OPS),
    here(f"{CASE}/timeline", "get_timeline", "Every handoff, oldest first", cases.get_timeline, "cases",
         CENTRE_OPS, response=list[cases.TimelineEntry]),
    # ---- cases: the centre's actions (referral)
    to_referral("cases", "POST", f"{CASE}/dispatch", "dispatch_case",
                "Manual dispatch or re-route (centre): {lead, assisting[]}", CENTRE, body=ref.DispatchIn),
    to_referral("cases", "POST", f"{CASE}/callback", "callback", "Callback rating (回访); dissatisfied reopens",
                CENTRE_ADAPTER, own="adapter_case", body=ref.CallbackIn),
    to_referral("cases", "POST", f"{CASE}/close", "close_case", "Close (销号)", CENTRE,
                body=ref.CloseIn, body_required=False),
    to_referral("cases", "POST", f"{CASE}/withdraw", "withdraw_case",
                "The citizen withdraws; open referrals are cancelled", CENTRE, body=ref.WithdrawIn),
    to_referral("cases", "POST", f"{CASE}/refer-onward", "refer_onward",
                "信调裁诉: send an unresolved case to arbitration or court", CENTRE, body=ref.ReferOnwardIn),
    to_referral("cases", "POST", f"{CASE}/return-to-channel", "return_to_channel",
                "回退: give a case back to the channel it came from (12345), with a reason code", CENTRE,
                body=ref.ReturnToChannelIn, description=RETURN_TO_CHANNEL),
    to_referral("cases", "POST", f"{CASE}/meetings", "record_meeting",
                "Record a joint consultation meeting (联席会商)", CENTRE, body=ref.MeetingIn),
    to_referral("cases", "GET", "/api/v1/dispatch-queue", "dispatch_queue",
                "Cases waiting for a dispatcher (no rule matched, returned, …), oldest first", CENTRE,
                query=ref.DispatchQueueQuery),
    # ---- referrals (department side; the centre reads them and decides extensions)
    to_referral("referrals", "GET", "/api/v1/referrals", "list_referrals",
                "The caller's department's referrals (centre: all)", DEPARTMENT_CENTRE, query=ref.ReferralListQuery),
    to_referral("referrals", "GET", REFERRAL, "get_referral",
                "One referral with its deadlines and supervision level", DEPARTMENT_CENTRE),
    to_referral("referrals", "POST", f"{REFERRAL}/acknowledge", "acknowledge", "报到/签收", DEPARTMENT),
    to_referral("referrals", "POST", f"{REFERRAL}/start", "start", "Start work (报到后开始办理)", DEPARTMENT),
    to_referral("referrals", "POST", f"{REFERRAL}/return", "return_referral",
                "退回, with a coded reason, within 2 working days", DEPARTMENT, body=ref.ReturnIn),
    to_referral("referrals", "POST", f"{REFERRAL}/extension", "request_extension",
                "Ask for an extension (延期申请)", DEPARTMENT, body=ref.ExtensionIn),
    to_referral("referrals", "POST", f"{REFERRAL}/extension/decision", "decide_extension",
                "Centre: approve or deny an extension", CENTRE, body=ref.DecisionIn),
    to_referral("referrals", "POST", f"{REFERRAL}/suspend", "suspend", "Wait on the citizen: the clock stops",
                DEPARTMENT, body=ref.SuspendIn),
    to_referral("referrals", "POST", f"{REFERRAL}/resume", "resume", "The clock runs again", DEPARTMENT),
    to_referral("referrals", "POST", f"{REFERRAL}/reply", "reply",
                "答复 (the lead's reply makes the case replied)", DEPARTMENT, body=ref.ReplyIn),
    # ---- tiered centres (分级调处) and holiday schedules
    to_referral("centres", "POST", f"{CASE}/escalate", "escalate",
                "上报: escalate the case to the parent centre (reason required)", CENTRE, body=ref.EscalateIn),
    to_referral("centres", "POST", f"{CASE}/delegate", "delegate", "下派: delegate the case to a centre below",
                CENTRE, body=ref.DelegateIn),
    to_referral("centres", "GET", "/api/v1/centres", "centres",
                "The centre tree: district, street centres, community mediation rooms", CENTRE_OPS),
    to_referral("centres", "GET", "/api/v1/departments", "departments",
                "The department registry (1+7+N): the units a dispatcher chooses lead and assisting from",
                CENTRE_OPS),
    to_referral("centres", "GET", "/api/v1/centres/{centre_id}/cases", "centre_cases",
                "Cases held by the centre or below it (district: all red)", CENTRE_OPS, query=ref.CentreCasesQuery),
    to_referral("centres", "GET", "/api/v1/stats/resolution-levels", "resolution_levels",
                "Closed cases by the level at which they were resolved", CENTRE_OPS,
                query=ref.ResolutionLevelsQuery),
    to_referral("centres", "POST", "/api/v1/calendar/schedules", "load_schedule",
                "Load a year's official holiday schedule (audited)", CENTRE, body=ref.ScheduleIn),
    to_referral("centres", "POST", "/api/v1/calendar/schedules/preview", "preview_schedule",
                "What loading a schedule would do: the provisional deadlines it would move (nothing written)",
                CENTRE, body=ref.ScheduleIn),
    to_referral("centres", "GET", "/api/v1/calendar", "calendar_status",
                "Years covered by the working-day calendar; provisional deadlines", CENTRE_OPS),
    # ---- the worklist (待办): centre staff act on tasks; ops read them (no staff notes)
    to_referral("tasks", "GET", "/api/v1/tasks", "list_tasks",
                "A centre's worklist (待办), due first: follow-ups and weak signals", CENTRE_OPS,
                query=ref.TaskListQuery),
    to_referral("tasks", "GET", TASK, "get_task", "One task with its history", CENTRE_OPS),
    to_referral("tasks", "POST", f"{TASK}/done", "done", "Mark a task done, with a note (audited)", CENTRE,
                body=ref.DoneIn, actor_id=True),
    to_referral("tasks", "POST", f"{TASK}/snooze", "snooze",
                "Put a task off until a time (audited); it comes back open then", CENTRE,
                body=ref.SnoozeIn, actor_id=True),
    # ---- ops: read-only views with no personal data (centre supervisors watch them too)
    here("/api/v1/ops/stalled", "get_stalled", "Stalled cases and referrals, worst first", ops.get_stalled,
         "ops", OPS_CENTRE, response=ops.StalledOut),
    here("/api/v1/ops/summary", "get_summary", "Counts by status and colour, overdue, closure and satisfaction rates",
         ops.get_summary, "ops", OPS_CENTRE),
    here("/api/v1/ops/stats", "get_stats", "Received, dispatched, mediated, closed and rates by a dimension",
         ops.get_stats, "ops", OPS_CENTRE),
    here("/api/v1/ops/reports/monthly", "get_monthly_report", "Monthly report (月度报表) as CSV or XLSX",
         ops.get_monthly_report, "ops", OPS_CENTRE),
    here("/api/v1/ops/alerts", "get_alerts", "Early-warning alerts (弱信号): bursts and repeat reporters",
         ops.get_alerts, "ops", OPS_CENTRE),
    here("/api/v1/ops/adapter-deliveries", "get_adapter_deliveries",
         "Status updates pushed (or waiting, or failed) to external systems", adapter_ops.get_adapter_deliveries,
         "ops", OPS_CENTRE, response=adapter_ops.DeliveriesOut),
    here("/api/v1/ops/adapter-deliveries/cases/{case_no}", "get_case_adapter_sync",
         "Each update of a case across the external systems that know it", adapter_ops.get_case_adapter_sync,
         "ops", OPS_CENTRE, response=list[adapter_ops.UpdateSyncOut]),
    Route("POST", "/api/v1/ops/adapter-deliveries/{delivery_id}/retry", "retry_adapter_delivery",
          "Retry a delivery the sender gave up on: back in the ledger's queue with a fresh set of attempts",
          "ops", OPS, handler=adapter_ops.retry_adapter_delivery, response=adapter_ops.DeliveryOut),
    # ---- ops: dead letters, handled (issue 16; the owning service keeps and replays them)
    here("/api/v1/ops/dead-letters", "list_dead_letters",
         "Dead letters of every service, newest first: queue, event type and id, reason, attempts (no event data)",
         dead_letters.list_dead_letters, "ops", OPS, response=dead_letters.DeadLettersOut),
    here(DEAD_LETTER, "get_dead_letter", "One dead letter with who did what to it and why",
         dead_letters.get_dead_letter, "ops", OPS, response=dead_letters.DeadLetterOut),
    Route("POST", f"{DEAD_LETTER}/replay", "replay_dead_letter",
          "Replay: the same event id into its queue with a full set of attempts; {reason} recorded with the person",
          "ops", OPS, handler=dead_letters.replay_dead_letter, response=dead_letters.DeadLetterOut),
    Route("POST", f"{DEAD_LETTER}/resolve", "resolve_dead_letter",
          "Mark handled without replaying; {reason} recorded with the person", "ops", OPS,
          handler=dead_letters.resolve_dead_letter, response=dead_letters.DeadLetterOut),
    # ---- grid workers (网格员, issue 18; docs/decisions/0024-grid-workers.md): scoped to the worker's grid
    to_intake("POST", "/api/v1/grid/reports", "post_grid_report",
              "Report a matter from the street (随手记) with photos and the point: a case on channel grid_app; "
              "the same client_id again is the same case (200)", GRID_WORKER, status_code=201,
              body=grid.GridReportIn, response=grid.GridReportOut),
    to_referral("grid", "GET", "/api/v1/grid/tasks", "grid_tasks",
                "The tasks of the worker's grid (grid visits, follow-ups, key persons' visits), nearest due first",
                GRID_WORKER, query=grid.GridTaskQuery, response=grid.GridTaskPage),
    to_referral("grid", "GET", "/api/v1/grid/tasks/{task_id}", "grid_task",
                "One task of the worker's grid, with the centre's instructions and its visits", GRID_WORKER,
                response=grid.GridTaskOut),
    to_referral("grid", "POST", "/api/v1/grid/tasks/{task_id}/visit", "grid_visit",
                "On-site check-in (现场签到): time, point, outcome and note (audited; on the case timeline)",
                GRID_WORKER, body=grid.VisitIn, response=grid.GridTaskOut),
    to_referral("grid", "POST", f"{CASE}/grid-tasks", "dispatch_to_grid",
                "Send a case to a grid for an on-site check (交办网格核查): a task for the grid's worker",
                CENTRE, status_code=201, body=grid.GridTaskIn, response=grid.GridTaskOut),
    to_referral("grid", "GET", "/api/v1/grids", "grids", "The grids (网格) in the caller's scope, by community",
                GRID_READERS),
    to_intake("GET", f"{CASE}/attachments", "case_attachments",
              "A case's attachments (a grid report's photos): type, size, digest", CENTRE,
              response=list[grid.AttachmentOut]),
    to_intake("GET", f"{CASE}/attachments/{{attachment_id}}", "case_attachment",
              "One attachment's content", CENTRE, no_store=True),
    # ---- key persons and households (重点人员 / 七色户卡, issue 18; intake keeps the registry, scoped by
    # centre: outside it 404). Answers masked; every read audited with its purpose.
    Route("POST", "/api/v1/key-persons", "post_key_person",
          "Register a key person or household: colour of the scheme, groups, centre and grid (audited)",
          "key-persons", CENTRE, service="intake", actor="role_and_id", status_code=201, no_store=True,
          body=dict[str, Any], body_description="name, phone, id_number, address, groups[], colour, reason, "
          "centre_id, grid_code, note"),
    Route("GET", "/api/v1/key-persons", "list_key_persons",
          "The registry in the caller's scope, masked; ?purpose= (visit|case_handling|review|supervision) audited",
          "key-persons", CENTRE, service="intake", actor="role_and_id", no_store=True, query=kp.KeyPersonListQuery),
    Route("GET", KEY_PERSON, "get_key_person", "One key person or household, masked; ?purpose= audited",
          "key-persons", CENTRE, service="intake", actor="role_and_id", no_store=True, query=kp.KeyPersonReadQuery),
    Route("POST", f"{KEY_PERSON}/colour", "post_key_person_colour",
          "A new colour with the reason (audited); the visit schedule follows", "key-persons", CENTRE,
          service="intake", actor="role_and_id", body=kp.KeyPersonColourIn),
    Route("POST", f"{KEY_PERSON}/personal-data", "reveal_key_person",
          "The entry's personal data, decrypted: {purpose} required, audited with the person", "key-persons",
          CENTRE, service="intake", actor="role_and_id", no_store=True, body=intake.RevealIn),
)
# fmt: on
