// 运维处置 (ops): dead letters (replay or resolve, with a reason), outbox lag, and adapter deliveries
// that failed (retry). 节假日安排 (centre, supervisor): a year's holiday schedule uploaded, with a preview of
// the deadlines it would move before it is loaded. No event data is ever shown: ids, types, reasons.

import { api } from "../api.js";
import { append, badge, clear, h, table, when } from "../dom.js";
import { checkForm, placeServerErrors, problemsSummary } from "../forms.js";
import { caseLink, field, heading, main, page, quiet, say, warn } from "../shell.js";

const DL_STATUS = { open: "待处理", replaying: "重放中", resolved: "已处理" };
const DL_RESOLUTION = { replayed: "已重放", dismissed: "已标记处理" };
const KIND_ZH = { acknowledge: "签收时限", handling: "办理时限", return_window: "退回时限", follow_up: "回访" };

function statusBadge(item) {
  const text = DL_STATUS[item.status] || item.status;
  const more = item.resolution ? `（${DL_RESOLUTION[item.resolution] || item.resolution}）` : "";
  return badge(text + more, item.status === "resolved" ? "" : "danger");
}

// A small form: a required reason (2–500 characters), then the call; the API's refusal is shown as is.
function reasonForm(id, buttonText, onSubmit) {
  const input = h("input", { name: "reason", required: "", minlength: "2", maxlength: "500", autocomplete: "off" });
  const form = h("form", { class: "inline-form", "aria-label": buttonText, novalidate: "" }, field(id, "原因", input), h("button", { type: "submit" }, buttonText));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    quiet();
    const problems = checkForm(form);
    if (problems.length) {
      warn(problemsSummary(problems));
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      await onSubmit(input.value.trim());
    } catch (err) {
      placeServerErrors(form, err);
      warn(err);
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

async function deadLetterSection(container) {
  const filters = h(
    "form",
    { class: "inline-form", "aria-label": "筛选死信" },
    field("dl-queue", "队列", h("input", { name: "queue", spellcheck: "false", placeholder: "如 referral.case-events" })),
    field("dl-status", "状态", h("select", { name: "status" }, h("option", { value: "open" }, "待处理"), h("option", { value: "resolved" }, "已处理"), h("option", { value: "all" }, "全部"))),
    h("button", { type: "submit" }, "查询"),
  );
  const list = h("div");
  const detail = h("div", { id: "dead-letter-detail" });
  append(container, h("h2", {}, "死信"), filters, list, detail);

  const show = async (id) => {
    const item = await api(`/ops/dead-letters/${encodeURIComponent(id)}`);
    clear(detail);
    const facts = h(
      "dl",
      { class: "facts" },
      [
        ["编号", item.id],
        ["队列", item.queue],
        ["事件类型", item.event_type || "—"],
        ["事件编号", item.event_id],
        ["事项", item.case_no || "—"],
        ["原因", item.reason],
        ["重试次数", String(item.attempts)],
        ["进入死信次数", String(item.deaths)],
        ["首次", when(item.first_dead_at)],
        ["最近", when(item.last_dead_at)],
        ["状态", statusBadge(item)],
        ["处理人", item.resolved_by || "—"],
        ["处理原因", item.resolve_reason || "—"],
      ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    );
    const history = table(
      "处置记录",
      ["时间", "动作", "操作人", "原因"],
      (item.history || []).map((e) => [when(e.at), e.action, e.by || "—", e.reason || "—"]),
    );
    const card = h("section", { class: "card", "aria-label": `死信 ${item.id}` }, h("h3", {}, `死信 ${item.id}`), facts, history);
    if (item.status !== "resolved") {
      card.append(
        h("h4", {}, "重放（同一事件编号，重试次数清零）"),
        reasonForm("dl-replay-reason", "重放", async (reason) => {
          const done = await api(`/ops/dead-letters/${encodeURIComponent(item.id)}/replay`, { method: "POST", body: { reason } });
          say(`死信 ${done.id} 已重放。`);
          await load();
          await show(done.id);
        }),
        h("h4", {}, "不重放，标记为已处理"),
        reasonForm("dl-resolve-reason", "标记已处理", async (reason) => {
          const done = await api(`/ops/dead-letters/${encodeURIComponent(item.id)}/resolve`, { method: "POST", body: { reason } });
          say(`死信 ${done.id} 已标记为处理完毕。`);
          await load();
          await show(done.id);
        }),
      );
    }
    detail.append(card);
  };

  const load = async () => {
    const f = filters.elements;
    const data = await api("/ops/dead-letters", { params: { queue: f.queue.value.trim(), status: f.status.value } });
    clear(list);
    if (data.unavailable && data.unavailable.length) {
      list.append(h("p", { class: "card notice", role: "note" }, `以下服务暂未响应，其死信未列入：${data.unavailable.join("、")}`));
    }
    list.append(
      table(
        `死信（${data.total}）`,
        ["编号", "队列", "事件类型", "事项", "原因", "重试", "最近进入死信", "状态", ""],
        data.items.map((i) => {
          const open = h("button", { type: "button" }, "查看");
          open.addEventListener("click", () => show(i.id).catch(warn));
          return [i.id, i.queue, h("code", {}, i.event_type || "—"), i.case_no ? caseLink(i.case_no) : "—", i.reason, String(i.attempts), when(i.last_dead_at), statusBadge(i), open];
        }),
        { empty: "没有待处理的死信" },
      ),
    );
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch(warn);
  });
  await load();
}

async function outboxSection(container) {
  const data = await api("/ops/stalled", { params: { kind: "outbox" } });
  append(
    container,
    h("h2", {}, "事件发送积压（outbox）"),
    table(
      `未按时发出的事件（${data.total}）`,
      ["事项", "事件类型", "自", "积压", "说明"],
      data.items.map((i) => [caseLink(i.case_no), h("code", {}, i.stage || "—"), when(i.since), `${i.overdue_minutes} 分钟`, i.detail || "—"]),
      { empty: "没有积压的事件" },
    ),
  );
}

async function adapterSection(container) {
  const filters = h(
    "form",
    { class: "inline-form", "aria-label": "筛选推送失败" },
    field("ad-case", "事项编号", h("input", { name: "case_no", spellcheck: "false", maxlength: "32" })),
    h("button", { type: "submit" }, "查询"),
  );
  const wrap = h("div");
  append(container, h("h2", {}, "外部系统推送失败"), filters, wrap);
  const load = async () => {
    clear(wrap);
    let data;
    try {
      data = await api("/ops/adapter-deliveries", { params: { status: "failed", page_size: 100, case_no: filters.elements.case_no.value.trim() } });
    } catch (err) {
      // A person scoped to a centre reads the ledger one case at a time (decision 0013): say so.
      if (err.status === 403 || err.status === 404) {
        wrap.append(h("p", { class: "card notice", role: "note" }, err.message));
        return;
      }
      throw err;
    }
    wrap.append(
      table(
        `推送失败（${data.total}）`,
        ["编号", "事项", "外部系统", "更新", "尝试次数", "错误", "时间", ""],
        data.items.map((d) => {
          const form = reasonForm(`retry-${d.id}`, "重试", async (reason) => {
            await api(`/ops/adapter-deliveries/${d.id}/retry`, { method: "POST", body: { reason } });
            say(`推送 ${d.id} 已重新排队。`);
            await load();
          });
          return [String(d.id), caseLink(d.case_no), d.system, d.update, String(d.attempts), d.last_error || "—", when(d.finished_at || d.created_at), form];
        }),
        { empty: "没有失败的推送" },
      ),
    );
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch(warn);
  });
  await load();
}

async function opsDeskView() {
  append(main, heading("运维处置"));
  const sections = [h("section", { "aria-label": "死信" }), h("section", { "aria-label": "事件发送积压" }), h("section", { "aria-label": "外部系统推送失败" })];
  main.append(...sections);
  await deadLetterSection(sections[0]);
  await outboxSection(sections[1]).catch(warn);
  await adapterSection(sections[2]).catch(warn);
}

async function calendarView() {
  append(main, heading("节假日安排"));
  const status = h("div");
  const input = h("input", { type: "file", name: "schedule", accept: ".yaml,.yml,.json,text/yaml,application/json" });
  const form = h("form", { class: "inline-form", "aria-label": "上传节假日安排" }, field("schedule-file", "节假日安排文件（YAML 或 JSON）", input), h("button", { type: "submit" }, "预览"));
  const preview = h("div", { id: "schedule-preview" });
  main.append(status, form, preview);

  const drawStatus = async () => {
    const data = await api("/calendar");
    clear(status);
    status.append(
      table(
        "已覆盖的年份",
        ["年份", "来源", "状态"],
        (data.years || []).map((y) => [String(y.year), y.source, y.covered ? "已覆盖" : badge("仅按周末计算（临时）", "danger")]),
      ),
      h("p", {}, `仍按临时日历计算的时限：${data.provisional_open_deadlines}`),
    );
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    quiet();
    clear(preview);
    const file = input.files && input.files[0];
    if (!file) {
      warn("请选择节假日安排文件");
      return;
    }
    if (file.size > 200_000) {
      warn("文件过大：节假日安排文件不应超过 200 KB");
      return;
    }
    const text = await file.text();
    const body = { text, source: file.name };
    let found;
    try {
      found = await api("/calendar/schedules/preview", { method: "POST", body });
    } catch (err) {
      warn(err);
      return;
    }
    const confirm = h("button", { type: "button" }, `确认载入 ${found.year} 年安排`);
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        const loaded = await api("/calendar/schedules", { method: "POST", body });
        say(`已载入 ${loaded.year} 年节假日安排：${loaded.holidays} 个节假日、${loaded.workdays} 个调休工作日，重新计算 ${loaded.recomputed} 个时限。`);
        clear(preview);
        await drawStatus();
      } catch (err) {
        warn(err);
        confirm.disabled = false;
      }
    });
    preview.append(
      h(
        "section",
        { class: "card", "aria-label": "载入预览" },
        h("h2", {}, `预览：${found.year} 年（${found.source}）`),
        h("p", {}, `${found.holidays} 个节假日、${found.workdays} 个调休工作日；将重新计算 ${found.recomputed} 个时限。`),
        table(
          "将变动的时限",
          ["事项", "部门", "时限", "原截止", "新截止"],
          found.deadlines.map((d) => [caseLink(d.case_no), d.department || "—", KIND_ZH[d.kind] || d.kind, when(d.due_at_before), when(d.due_at_after)]),
          { empty: "没有时限会变动" },
        ),
        confirm,
      ),
    );
  });
  await drawStatus();
}

page({ path: "ops-desk", title: "运维处置", roles: ["ops"], view: opsDeskView });
page({ path: "calendar", title: "节假日安排", roles: ["centre", "supervisor"], view: calendarView });
