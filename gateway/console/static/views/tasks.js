// 我的待办 (centre staff and supervisors): extensions to decide, returns to decide, and the worklist's
// follow-ups (三色回访) and weak-signal alerts (弱信号预警), due first, each done (with a note) or
// snoozed (until a time) right here.

import { api } from "../api.js";
import { append, badge, clear, h, table, when } from "../dom.js";
import { label } from "../labels.js";
import { actionForm, caseLink, field, heading, main, page, say } from "../shell.js";
import { RETURN_CODE_ZH, explain, extensionDecision, fieldMessage } from "./case_actions.js";

const KIND_ZH = { follow_up: "跟踪回访", weak_signal_burst: "弱信号：高发聚集", repeat_reporter: "弱信号：重复反映" };
const TASK_STATUS_ZH = { open: "待办", snoozed: "已推迟", done: "已完成" };

async function tasksView() {
  append(main, heading("我的待办"));
  // Each section named by its heading from the start (a region needs its name while it loads too).
  const section = (id, title) => h("section", { "aria-labelledby": id }, h("h2", { id }, title), h("p", { class: "hint" }, "正在加载…"));
  const sections = {
    extensions: section("todo-extensions", "待审批延期"),
    returns: section("todo-returns", "部门退回待处理"),
    tasks: section("todo-tasks", "跟踪回访与弱信号预警"),
  };
  main.append(sections.extensions, sections.returns, sections.tasks);
  const reload = async () => {
    const [extensions, queue, tasks] = await Promise.all([
      api("/referrals", { params: { status: "extension_requested", page_size: 100 } }),
      api("/dispatch-queue"),
      api("/tasks", { params: { page_size: 100 } }),
    ]);
    drawExtensions(sections.extensions, (extensions && extensions.items) || [], reload);
    drawReturns(sections.returns, (queue && queue.items) || []);
    drawTasks(sections.tasks, tasks, reload);
  };
  await reload();
}

function drawExtensions(section, items, reload) {
  clear(section).append(h("h2", { id: "todo-extensions" }, `待审批延期（${items.length}）`));
  if (!items.length) {
    section.append(h("p", { class: "empty" }, "没有待审批的延期申请。"));
    return;
  }
  section.append(
    table(
      "待审批的延期申请",
      ["事项编号", "部门", "当前办理时限", "审批"],
      items.map((r) => [caseLink(r.case_no), r.department_name || r.department, when(r.due_at), extensionDecision(r, async (text) => {
        await reload();
        say(text);
      })]),
    ),
  );
}

function drawReturns(section, cases) {
  const returned = cases
    .map((c) => ({ c, entry: (c.dispatch_queue || []).find((q) => q.reason_code === "returned" && !q.resolved_at) }))
    .filter((x) => x.entry);
  clear(section).append(h("h2", { id: "todo-returns" }, `部门退回待处理（${returned.length}）`));
  section.append(
    table(
      "部门退回、待决定接受或不予认可的事项",
      ["事项编号", "风险颜色", "退回单位", "退回原因", "退回时间", "处理"],
      returned.map(({ c, entry }) => {
        const r = (c.referrals || []).find((x) => x.id === entry.referral_id) || {};
        return [
          caseLink(c.case_no),
          label("colour", c.colour),
          r.department_name || entry.department || "—",
          `${RETURN_CODE_ZH[r.return_reason_code] || ""} ${r.return_reason || entry.reason || ""}`.trim(),
          when(entry.queued_at),
          h("a", { href: `#/case/${encodeURIComponent(c.case_no)}` }, "去处理"),
        ];
      }),
      { empty: "没有待处理的退回" },
    ),
  );
}

function drawTasks(section, data, reload) {
  const items = ((data && data.items) || []).filter((t) => t.status !== "done");
  const now = data && data.now ? new Date(data.now) : new Date();
  clear(section).append(h("h2", { id: "todo-tasks" }, `跟踪回访与弱信号预警（${items.length}）`));
  section.append(
    table(
      "待办任务（到期先后）",
      ["任务", "事项", "中心", "到期时间", "状态", "操作"],
      items.map((t) => [
        t.title || KIND_ZH[t.kind] || t.kind,
        (t.case_nos && t.case_nos.length ? t.case_nos : [t.case_no]).slice(0, 5).map((no) => [caseLink(no), " "]),
        t.centre_name || t.centre_id,
        [when(t.due_at), new Date(t.due_at) <= now ? badge("已到期", "danger") : null],
        t.status === "snoozed" ? `${TASK_STATUS_ZH.snoozed}至 ${when(t.snoozed_until)}` : TASK_STATUS_ZH[t.status] || t.status,
        taskActions(t, reload),
      ]),
      { empty: "没有待办任务" },
    ),
  );
}

function taskActions(t, reload) {
  const allowed = t.allowed_actions || [];
  const id = encodeURIComponent(t.id);
  const box = h("div", { class: "row-actions" });
  const told = { explain, fieldMessage };
  if (allowed.includes("done")) {
    box.append(
      actionForm(
        "办结",
        [field(`task-note-${t.id}`, "办理情况", h("textarea", { name: "note", rows: 2, required: true, maxlength: 2000 }))],
        "标记完成",
        async (f) => {
          const note = f.note.value.trim();
          await api(`/tasks/${id}/done`, { method: "POST", body: { note } });
          say(`已完成：${t.title || KIND_ZH[t.kind] || "任务"}。`);
          await reload();
        },
        told,
      ),
    );
  }
  if (allowed.includes("snooze")) {
    box.append(
      actionForm(
        "推迟",
        [
          field(`task-until-${t.id}`, "推迟到", h("input", { type: "datetime-local", name: "until", required: true, "data-label": "推迟到的时间" })),
          field(`task-snooze-note-${t.id}`, "说明（可空）", h("input", { name: "note", maxlength: 2000 })),
        ],
        "确认推迟",
        async (f) => {
          const until = new Date(f.until.value);
          const body = { until: until.toISOString() };
          if (f.note.value.trim()) body.note = f.note.value.trim();
          await api(`/tasks/${id}/snooze`, { method: "POST", body });
          say(`已推迟至 ${when(until.toISOString())}。`);
          await reload();
        },
        told,
      ),
    );
  }
  return box.childNodes.length ? box : "—";
}

page({ path: "tasks", title: "我的待办", roles: ["centre", "supervisor"], view: tasksView });
