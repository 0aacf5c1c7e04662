// The console: a hash router over a few views, each drawn from the hub's public API.

import { api, currentSession, login, logout, onSessionEnd } from "./api.js";
import { append, badge, clear, duration, h, percent, table, when } from "./dom.js";
import { barChart, rateMeter, stat, trendChart } from "./charts.js";
import { COLOURS, label } from "./labels.js";

const main = document.getElementById("main");
const messages = document.getElementById("messages");
const alertsRegion = document.getElementById("alerts");

// ------------------------------------------------------------------ messages (aria-live regions)

function say(text) {
  alertsRegion.textContent = "";
  messages.textContent = text;
}

function warn(error) {
  messages.textContent = "";
  alertsRegion.textContent = typeof error === "string" ? error : error && error.title ? error.message : `出错了：${error}`;
}

// A message for the page the next route() draws (say() now would be cleared by that navigation).
let pending = null;
function flash(text) {
  pending = text;
}

function quiet() {
  messages.textContent = "";
  alertsRegion.textContent = "";
}

// ------------------------------------------------------------------ navigation by role

const PAGES = [
  { path: "dashboard", title: "工作总览", roles: ["centre", "supervisor", "ops"] },
  { path: "queue", title: "调度队列", roles: ["centre", "supervisor"] },
  { path: "case", title: "事项查询", roles: ["centre", "supervisor", "ops"] },
  { path: "stalled", title: "超期滞留", roles: ["centre", "supervisor", "ops"] },
  { path: "referrals", title: "转办事项", roles: ["centre", "supervisor", "department"] },
  { path: "alerts", title: "弱信号预警", roles: ["centre", "supervisor", "ops"] },
];

function homeOf(role) {
  return role === "department" ? "#/referrals" : "#/dashboard";
}

function drawChrome(session) {
  const nav = document.getElementById("nav");
  const list = clear(document.getElementById("nav-list"));
  const who = document.getElementById("who");
  if (!session) {
    nav.hidden = true;
    who.hidden = true;
    return;
  }
  const current = (location.hash.split("/")[1] || "").split("?")[0];
  for (const page of PAGES.filter((p) => p.roles.includes(session.role))) {
    const text = session.role === "department" && page.path === "referrals" ? "本部门转办" : page.title;
    const link = h("a", { href: `#/${page.path}` }, text);
    if (page.path === current) link.setAttribute("aria-current", "page");
    list.append(h("li", {}, link));
  }
  nav.hidden = false;
  who.hidden = false;
  const dept = session.department ? ` · ${session.department}` : "";
  document.getElementById("who-text").textContent = `${session.name} · ${label("role", session.role)}${dept}`;
}

function heading(text, ...extra) {
  const h1 = h("h1", { tabindex: "-1" }, text);
  return h("div", { class: "page-head" }, h1, ...extra);
}

function focusHeading() {
  const h1 = main.querySelector("h1");
  if (h1) h1.focus();
}

document.getElementById("logout").addEventListener("click", () => {
  logout("user");
});

let endReason = null;
onSessionEnd((reason) => {
  endReason = reason;
  if (location.hash !== "#/login") location.hash = "#/login";
  else route();
});

// ------------------------------------------------------------------ login

function loginView() {
  const status = endReason === "expired" ? "登录已过期或令牌无效，请重新登录。" : endReason === "user" ? "已退出登录。" : "";
  endReason = null;
  const error = h("p", { class: "form-error", id: "login-error", role: "alert" });
  const form = h(
    "form",
    { class: "card login", novalidate: true, "aria-describedby": "login-help" },
    h("p", { id: "login-help", class: "hint" }, "请输入管理员为您开通的用户名和密码（hub users create 生成）。"),
    h("label", { for: "username" }, "用户名"),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true, spellcheck: "false" }),
    h("label", { for: "password" }, "密码"),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    error,
    h("button", { type: "submit", class: "primary" }, "登录"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = form.elements.username.value.trim();
    const secret = form.elements.password.value;
    if (!id || !secret) {
      error.textContent = "请填写用户名和密码。";
      (id ? form.elements.password : form.elements.username).focus();
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const session = await login(id, secret);
      form.elements.password.value = "";
      flash("登录成功。");
      location.hash = homeOf(session.role);
    } catch (err) {
      error.textContent = err.message;
      form.elements.password.focus();
    } finally {
      button.disabled = false;
    }
  });
  append(main, [heading("登录工作台"), form]);
  if (status) say(status);
  form.elements.username.focus();
}

// ------------------------------------------------------------------ dashboard

// {red: 3} → [["red", 3]]; [{key: "x", received: 3}] → [["x", 3]] (the shapes of /ops/summary, /ops/stats).
function pairs(value, field = "received") {
  if (!value) return [];
  if (Array.isArray(value)) return value.map((row) => [row.key ?? row.name ?? row.code, Number(row[field] ?? row.count ?? 0)]);
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => [k, Number(typeof v === "object" ? v[field] ?? v.count : v) || 0]);
  return [];
}

const DAY = 24 * 3600 * 1000;
const TREND_DAYS = 14;

function shanghaiDay(date) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(date); // YYYY-MM-DD
}

// Cases received on each of the last TREND_DAYS days (Beijing days): one /ops/stats?by=day call.
async function dailyTrend() {
  const today = shanghaiDay(new Date());
  const days = Array.from({ length: TREND_DAYS }, (_, i) => shanghaiDay(new Date(Date.parse(`${today}T12:00:00+08:00`) - (TREND_DAYS - 1 - i) * DAY)));
  const from = new Date(`${days[0]}T00:00:00+08:00`);
  const data = await api("/ops/stats", { optional: true, params: { by: "day", from: from.toISOString() } });
  if (!data) return [];
  const received = new Map((data.items || []).map((row) => [row.key, Number(row.received) || 0]));
  return days.map((day) => ({ label: day.slice(5), value: received.get(day) || 0 }));
}

async function dashboardView() {
  append(main, heading("工作总览"));
  const body = h("div", { class: "dashboard", "aria-busy": "true" }, h("p", {}, "正在加载…"));
  main.append(body);
  const summary = await api("/ops/summary", { optional: true });
  if (!summary) {
    clear(body);
    body.removeAttribute("aria-busy");
    append(body, h("div", { class: "card notice" }, h("h2", {}, "暂无数据"), h("p", {}, "统计接口（/api/v1/ops/summary、/api/v1/ops/stats）尚未启用，启用后这里显示风险颜色分布、趋势、超期和办结率、满意率。")));
    return;
  }
  const [byMonth, byCategory, byDepartment, trend] = await Promise.all([
    api("/ops/stats", { optional: true, params: { by: "month" } }),
    api("/ops/stats", { optional: true, params: { by: "category" } }),
    api("/ops/stats", { optional: true, params: { by: "department" } }),
    dailyTrend(),
  ]);
  clear(body);
  body.removeAttribute("aria-busy");
  const s = summary;
  const byColour = Object.fromEntries(pairs(s.by_colour));
  append(
    body,
    h(
      "section",
      { class: "stats", "aria-label": "关键指标" },
      stat("受理总数", s.total ?? s.received),
      stat("在办事项", s.open),
      stat("已调解", s.mediated),
      stat("已办结", s.closed),
      stat("超期事项", s.overdue, { kind: s.overdue ? "warn" : "" }),
    ),
    h("section", { class: "rates", "aria-label": "办结率与满意率" }, rateMeter("办结率", s.closure_rate), rateMeter("满意率", s.satisfaction_rate)),
    h(
      "section",
      { class: "charts", "aria-label": "图表" },
      barChart("风险颜色分布", COLOURS.map((c) => ({ label: label("colour", c), value: Number(byColour[c] || 0), colour: c }))),
      barChart("事项状态", pairs(s.by_status).map(([k, v]) => ({ label: label("caseStatus", k), value: v }))),
      trendChart(`近 ${TREND_DAYS} 天每日受理`, trend),
      barChart("受理渠道", pairs(s.by_channel).map(([k, v]) => ({ label: label("channel", k), value: v }))),
      barChart("类别分布", pairs(byCategory && byCategory.items).map(([k, v]) => ({ label: label("category", k), value: v }))),
      byMonth && byMonth.items && byMonth.items.length > 1 ? trendChart("每月受理", pairs(byMonth.items).map(([k, v]) => ({ label: k, value: v }))) : null,
    ),
  );
  const departments = (byDepartment && byDepartment.items) || [];
  body.append(
    h(
      "section",
      { "aria-labelledby": "dash-departments" },
      h("h2", { id: "dash-departments" }, "各部门办理情况"),
      table(
        "按牵头部门统计",
        ["牵头部门", "受理", "已调解", "已办结", "超期", "办结率", "满意率"],
        departments.map((d) => [d.key === "-" ? "未分拨" : d.key, d.received, d.mediated, d.closed, d.overdue, percent(d.closure_rate), percent(d.satisfaction_rate)]),
      ),
    ),
  );
}

// ------------------------------------------------------------------ dispatcher queue

function caseLink(caseNo) {
  return h("a", { href: `#/case/${encodeURIComponent(caseNo)}` }, caseNo);
}

function colourBadge(colour) {
  return colour ? badge(label("colour", colour), `colour-${colour}`) : "—";
}

async function queueView() {
  append(main, heading("调度队列"));
  const data = await api("/dispatch-queue");
  const items = (data && data.items) || [];
  const open = (c) => (c.dispatch_queue || []).filter((q) => !q.resolved_at);
  const reasonOf = (c) => {
    const entries = open(c);
    return entries.length ? entries[entries.length - 1] : (c.dispatch_queue || [])[0] || {};
  };
  const unrouted = items.filter((c) => reasonOf(c).reason_code !== "returned");
  const returned = items.filter((c) => reasonOf(c).reason_code === "returned");
  const row = (c) => {
    const q = reasonOf(c);
    return [caseLink(c.case_no), colourBadge(c.colour), label("category", c.category), label("queueReason", q.reason_code), q.department || "—", q.reason || "—", when(q.queued_at)];
  };
  const cols = ["事项编号", "颜色", "类别", "原因", "退回部门", "说明", "进入队列时间"];
  main.append(
    h("section", { "aria-labelledby": "q-unrouted" }, h("h2", { id: "q-unrouted" }, `未分拨（${unrouted.length}）`), table("待人工分拨的事项", cols, unrouted.map(row))),
    h("section", { "aria-labelledby": "q-returned" }, h("h2", { id: "q-returned" }, `被退回（${returned.length}）`), table("部门退回待重新分拨的事项", cols, returned.map(row))),
  );
  // Suspected duplicates: from the case list when the gateway offers one, else from the queued cases.
  const dupSection = h("section", { "aria-labelledby": "q-dup" }, h("h2", { id: "q-dup" }, "疑似重复"), h("p", {}, "正在加载…"));
  main.append(dupSection);
  let candidates = [];
  const listed = await api("/cases", { params: { suspected_duplicate: "true", page_size: 100 }, optional: true });
  if (listed && Array.isArray(listed.items)) candidates = listed.items;
  else candidates = await Promise.all(items.slice(0, 50).map((c) => api(`/cases/${encodeURIComponent(c.case_no)}`, { optional: true })));
  const dups = candidates.filter((c) => c && c.duplicate_of);
  dupSection.lastChild.remove();
  dupSection.append(
    table(
      "疑似与已有事项重复",
      ["事项编号", "疑似重复于", "颜色", "标题"],
      dups.map((c) => [caseLink(c.case_no), caseLink(c.duplicate_of), colourBadge(c.colour), c.title || "—"]),
    ),
  );
}

// ------------------------------------------------------------------ case lookup and detail

function caseLookup(value = "") {
  const form = h(
    "form",
    { class: "inline-form", role: "search", "aria-label": "按编号查询事项" },
    h("label", { for: "case-no" }, "事项编号"),
    h("input", { id: "case-no", name: "case_no", value, placeholder: "ZZ-20261122-000001", spellcheck: "false" }),
    h("button", { type: "submit" }, "查询"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const no = form.elements.case_no.value.trim();
    if (no) location.hash = `#/case/${encodeURIComponent(no)}`;
  });
  return form;
}

function dl(pairsList) {
  return h("dl", { class: "facts" }, pairsList.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

function summariseDetail(detail) {
  if (!detail || typeof detail !== "object") return "";
  return Object.entries(detail)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== "object")
    .slice(0, 4)
    .map(([k, v]) => `${k}=${v}`)
    .join("，");
}

function actorText(actor) {
  if (!actor || typeof actor !== "object") return "—";
  const role = actor.role ? label("role", actor.role) : "";
  return [role, actor.department].filter(Boolean).join(" · ") || "系统";
}

function actionForm(summaryText, fields, submitText, onSubmit) {
  const form = h("form", { class: "action-form" }, fields, h("button", { type: "submit" }, submitText));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await onSubmit(form.elements);
    } catch (err) {
      warn(err);
    } finally {
      button.disabled = false;
    }
  });
  return h("details", { class: "action" }, h("summary", {}, summaryText), form);
}

function field(id, text, input) {
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, text), input);
}

function select(name, kind, codes) {
  return h("select", { name }, codes.map((c) => h("option", { value: c }, label(kind, c))));
}

async function caseView(caseNo) {
  append(main, heading(caseNo ? `事项 ${caseNo}` : "事项查询"), caseLookup(caseNo || ""));
  if (!caseNo) {
    main.append(h("p", { class: "hint" }, "输入事项编号查看详情、各环节时间线和可办理的操作。"));
    return;
  }
  const [found, timeline] = await Promise.all([api(`/cases/${encodeURIComponent(caseNo)}`), api(`/cases/${encodeURIComponent(caseNo)}/timeline`, { optional: true })]);
  const c = found;
  const location = c.location || {};
  main.append(
    h(
      "section",
      { class: "card", "aria-labelledby": "case-summary" },
      h("h2", { id: "case-summary" }, c.title || "事项概况"),
      dl([
        ["状态", badge(label("caseStatus", c.status), "status")],
        ["风险颜色", colourBadge(c.colour)],
        ["类别", label("category", c.category)],
        ["响应级别", label("responseLevel", c.response_level)],
        ["渠道", label("channel", c.channel)],
        ["受理时间", when(c.registered_at)],
        ["地址", location.address || "—"],
        ["街道", location.street_code || "—"],
        ["涉及人数", c.people_involved],
        ["疑似重复于", c.duplicate_of ? caseLink(c.duplicate_of) : "—"],
        ["待人工处理原因", c.manual_reason || "—"],
        ["追踪编号", c.trace_id ? h("code", {}, c.trace_id) : "—"],
      ]),
      c.description ? h("p", { class: "description" }, c.description) : null,
    ),
  );
  const referrals = c.referrals || [];
  main.append(
    h(
      "section",
      { "aria-labelledby": "case-referrals" },
      h("h2", { id: "case-referrals" }, "转办部门"),
      table(
        "本事项的转办",
        ["部门", "角色", "状态", "报到时限", "办理时限", "督办", "超期"],
        referrals.map((r) => [
          r.department_name || r.department,
          label("role", r.role),
          label("referralStatus", r.status),
          when(r.ack_due_at),
          when(r.due_at),
          label("supervision", r.supervision_level),
          r.overdue ? badge("已超期", "danger") : "否",
        ]),
        { empty: "尚未分拨" },
      ),
    ),
  );
  const entries = timeline || [];
  main.append(
    h(
      "section",
      { "aria-labelledby": "case-timeline" },
      h("h2", { id: "case-timeline" }, "时间线"),
      table(
        "各环节交接（由早到晚）",
        ["时间", "服务", "事件", "操作方", "距上一环节", "说明", "追踪 / 跨度"],
        entries.map((e, i) => [
          when(e.at),
          label("service", e.service),
          h("code", {}, e.event),
          actorText(e.actor),
          i ? duration(new Date(e.at) - new Date(entries[i - 1].at)) : "—",
          summariseDetail(e.detail) || "—",
          e.trace_id ? h("code", { title: `span ${e.span_id || "—"}` }, `${e.trace_id.slice(0, 12)}… / ${(e.span_id || "—").slice(0, 8)}`) : "—",
        ]),
        { empty: "暂无记录" },
      ),
    ),
  );
  if (["centre", "supervisor"].includes((currentSession() || {}).role)) main.append(caseActions(c));
}

function caseActions(c) {
  const no = encodeURIComponent(c.case_no);
  const done = async (text) => {
    flash(text);
    await route();
  };
  return h(
    "section",
    { "aria-labelledby": "case-actions", class: "actions" },
    h("h2", { id: "case-actions" }, "办理操作"),
    actionForm(
      "分拨 / 改派",
      [
        field("dispatch-lead", "牵头单位代码", h("input", { name: "lead", required: true, spellcheck: "false" })),
        field("dispatch-assisting", "协办单位代码（逗号分隔，可空）", h("input", { name: "assisting", spellcheck: "false" })),
      ],
      "确认分拨",
      async (f) => {
        const assisting = f.assisting.value.split(/[,，\s]+/).filter(Boolean);
        await api(`/cases/${no}/dispatch`, { method: "POST", body: { lead: f.lead.value.trim(), assisting } });
        await done("已分拨。");
      },
    ),
    actionForm(
      "回访评价",
      [
        field("callback-satisfaction", "满意度", select("satisfaction", "satisfaction", ["satisfied", "basically_satisfied", "dissatisfied"])),
        field("callback-comment", "回访记录（可空）", h("textarea", { name: "comment", rows: 2, maxlength: 2000 })),
      ],
      "提交回访",
      async (f) => {
        const body = { satisfaction: f.satisfaction.value };
        if (f.comment.value.trim()) body.comment = f.comment.value.trim();
        await api(`/cases/${no}/callback`, { method: "POST", body });
        await done("回访已记录。");
      },
    ),
    actionForm("销号", [h("p", { class: "hint" }, "确认事项已办结并销号。")], "确认销号", async () => {
      await api(`/cases/${no}/close`, { method: "POST" });
      await done("已销号。");
    }),
    actionForm(
      "撤回（群众撤诉）",
      [field("withdraw-reason", "撤回原因", h("textarea", { name: "reason", rows: 2, required: true, maxlength: 2000 }))],
      "确认撤回",
      async (f) => {
        await api(`/cases/${no}/withdraw`, { method: "POST", body: { reason: f.reason.value.trim() } });
        await done("已撤回，未办结的转办已撤销。");
      },
    ),
    actionForm(
      "合并到其他事项",
      [
        field("merge-into", "合并到事项编号", h("input", { name: "into", required: true, value: c.duplicate_of || "", spellcheck: "false" })),
        field("merge-reason", "原因", h("input", { name: "reason", required: true })),
      ],
      "确认合并",
      async (f) => {
        await api(`/cases/${no}/merge`, { method: "POST", body: { into: f.into.value.trim(), reason: f.reason.value.trim() } });
        await done("已合并。");
      },
    ),
    c.duplicate_of
      ? actionForm("不是重复（解除关联）", [field("unlink-reason", "原因", h("input", { name: "reason", required: true }))], "解除关联", async (f) => {
          await api(`/cases/${no}/unlink`, { method: "POST", body: { reason: f.reason.value.trim() } });
          await done("已解除疑似重复关联。");
        })
      : null,
  );
}

// ------------------------------------------------------------------ stalled

const STALL_KINDS = {
  deadline: "超过时限",
  idle: "长时间无进展",
  outbox: "事件未发出",
  dead_letter: "消息进入死信",
  adapter_delivery: "外部系统推送失败",
  sms: "短信未送达",
};

async function stalledView() {
  append(main, heading("超期滞留"));
  const filters = h(
    "form",
    { class: "inline-form", "aria-label": "筛选" },
    field("f-dept", "部门代码", h("input", { name: "department", spellcheck: "false" })),
    field("f-street", "街道代码", h("input", { name: "street", spellcheck: "false", inputmode: "numeric" })),
    field("f-colour", "颜色", h("select", { name: "colour" }, h("option", { value: "" }, "全部"), COLOURS.map((c) => h("option", { value: c }, label("colour", c))))),
    field("f-kind", "类型", h("select", { name: "kind" }, h("option", { value: "" }, "全部"), Object.entries(STALL_KINDS).map(([v, t]) => h("option", { value: v }, t)))),
    field("f-min", "至少超期（分钟）", h("input", { name: "min_overdue_minutes", type: "number", min: 0, inputmode: "numeric" })),
    h("button", { type: "submit" }, "筛选"),
  );
  const results = h("div");
  main.append(filters, results);
  const load = async () => {
    const f = filters.elements;
    const data = await api("/ops/stalled", {
      optional: true,
      params: {
        department: f.department.value.trim(),
        street: f.street.value.trim(),
        colour: f.colour.value,
        kind: f.kind.value,
        min_overdue_minutes: f.min_overdue_minutes.value,
      },
    });
    clear(results);
    if (data === null) {
      results.append(h("div", { class: "card notice" }, h("h2", {}, "暂无数据"), h("p", {}, "滞留查询接口（/api/v1/ops/stalled）尚未启用。")));
      return;
    }
    const items = Array.isArray(data) ? data : data.items || [];
    if (data.unavailable && data.unavailable.length) {
      results.append(h("p", { class: "card notice", role: "note" }, `以下服务暂未响应，其滞留项未列入：${data.unavailable.join("、")}`));
    }
    results.append(
      table(
        `滞留事项（${data.total ?? items.length}）`,
        ["事项编号", "类型", "颜色", "所在环节", "部门", "自", "超期", "督办", "最近交接", "追踪编号"],
        items.map((i) => {
          const last = i.last_handoff;
          const lastText = last && typeof last === "object" ? [h("code", {}, last.event || ""), ` ${when(last.at)}`] : last || "—";
          const over = i.overdue_minutes;
          return [
            caseLink(i.case_no),
            STALL_KINDS[i.kind] || i.kind || "—",
            colourBadge(i.colour),
            [label("state", i.state), i.stage ? `（${label("stage", i.stage)}）` : "", i.detail ? ` ${i.detail}` : ""].join(""),
            i.unit || i.department_name || i.department || "—",
            when(i.since),
            over != null ? badge(duration(over * 60000), over > 0 ? "danger" : "") : "—",
            label("supervision", i.supervision_level),
            lastText,
            i.trace_id ? h("code", {}, i.trace_id.slice(0, 16)) : "—",
          ];
        }),
        { empty: "没有滞留事项" },
      ),
    );
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch(warn);
  });
  await load();
}

// ------------------------------------------------------------------ referrals (a department's own)

async function referralsView() {
  const session = currentSession() || {};
  const isDept = session.role === "department";
  append(main, heading(isDept ? "本部门转办事项" : "转办事项"));
  const filters = h(
    "form",
    { class: "inline-form", "aria-label": "筛选" },
    field(
      "r-status",
      "状态",
      h("select", { name: "status" }, h("option", { value: "" }, "全部"), ["dispatched", "acknowledged", "in_progress", "extension_requested", "replied", "returned"].map((c) => h("option", { value: c }, label("referralStatus", c)))),
    ),
    h("div", { class: "field checkbox" }, h("input", { type: "checkbox", id: "r-overdue", name: "overdue" }), h("label", { for: "r-overdue" }, "只看超期")),
    h("button", { type: "submit" }, "筛选"),
  );
  const results = h("div");
  main.append(filters, results);
  const load = async () => {
    const f = filters.elements;
    const data = await api("/referrals", { params: { status: f.status.value, overdue: f.overdue.checked ? "true" : "", page_size: 100 } });
    clear(results);
    const items = (data && data.items) || [];
    results.append(
      table(
        `转办事项（共 ${data ? data.total ?? items.length : 0} 件）`,
        ["事项编号", "部门", "角色", "状态", "报到时限", "办理时限", "督办", "操作"],
        items.map((r) => [
          isDept ? r.case_no : caseLink(r.case_no),
          r.department_name || r.department,
          label("role", r.role),
          h("span", { "data-referral-status": r.id }, label("referralStatus", r.status)),
          when(r.ack_due_at),
          [when(r.due_at), r.overdue ? badge("已超期", "danger") : null],
          label("supervision", r.supervision_level),
          isDept ? referralActions(r, load) : "—",
        ]),
        { empty: "暂无转办事项" },
      ),
    );
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch(warn);
  });
  await load();
}

function referralActions(r, reload) {
  const allowed = r.allowed_actions || [];
  const id = encodeURIComponent(r.id);
  const box = h("div", { class: "row-actions" });
  const after = async (text) => {
    say(text);
    await reload();
  };
  if (allowed.includes("acknowledge")) {
    box.append(
      h(
        "button",
        {
          type: "button",
          "aria-label": `报到：事项 ${r.case_no}`,
          onclick: async (event) => {
            const button = event.currentTarget;
            button.disabled = true;
            try {
              await api(`/referrals/${id}/acknowledge`, { method: "POST" });
              await after(`已报到：事项 ${r.case_no}。`);
            } catch (err) {
              warn(err);
              button.disabled = false;
            }
          },
        },
        "报到",
      ),
    );
  }
  if (allowed.includes("reply")) {
    box.append(
      actionForm(
        `答复 ${r.case_no}`,
        [
          field(`reply-outcome-${r.id}`, "办理结果", select("outcome", "outcome", ["resolved", "mediated", "partially_resolved", "unresolved", "referred_to_litigation"])),
          field(`reply-summary-${r.id}`, "答复内容", h("textarea", { name: "summary", rows: 3, required: true, maxlength: 4000 })),
        ],
        "提交答复",
        async (f) => {
          const summary = f.summary.value.trim();
          if (!summary) {
            warn("请填写答复内容。");
            f.summary.focus();
            return;
          }
          await api(`/referrals/${id}/reply`, { method: "POST", body: { outcome: f.outcome.value, summary } });
          await after(`已答复：事项 ${r.case_no}。`);
        },
      ),
    );
  }
  if (allowed.includes("return")) {
    box.append(
      actionForm(
        `退回 ${r.case_no}`,
        [
          field(`return-code-${r.id}`, "退回原因", h("select", { name: "reason_code" }, [["not_our_duty", "不属本部门职责"], ["wrong_area", "不属本辖区"], ["insufficient_info", "信息不全"], ["duplicate", "重复事项"], ["other", "其他"]].map(([v, t]) => h("option", { value: v }, t)))),
          field(`return-reason-${r.id}`, "说明", h("textarea", { name: "reason", rows: 2, required: true, maxlength: 2000 })),
        ],
        "确认退回",
        async (f) => {
          await api(`/referrals/${id}/return`, { method: "POST", body: { reason_code: f.reason_code.value, reason: f.reason.value.trim() } });
          await after(`已退回：事项 ${r.case_no}。`);
        },
      ),
    );
  }
  return box.childNodes.length ? box : "—";
}

// ------------------------------------------------------------------ alerts

async function alertsView() {
  append(main, heading("弱信号预警"));
  const data = await api("/ops/alerts", { optional: true });
  if (data === null) {
    main.append(h("div", { class: "card notice" }, h("h2", {}, "暂无数据"), h("p", {}, "预警接口（/api/v1/ops/alerts）尚未启用。")));
    return;
  }
  const items = Array.isArray(data) ? data : data.items || [];
  const set = data.settings || {};
  if (set.burst_window_minutes) {
    main.append(
      h(
        "p",
        { class: "hint" },
        `规则：同一网格或街道 ${set.burst_window_minutes} 分钟内同类事项达到 ${set.burst_threshold} 件为聚集；同一来访人 ${set.repeat_reporter_days} 天内反映 ${set.repeat_reporter_threshold} 次及以上为重复来访。`,
      ),
    );
  }
  main.append(
    table(
      `预警（${items.length}）`,
      ["类型", "类别", "区域 / 来访人", "数量", "首次", "最近", "相关事项"],
      items.map((a) => [
        a.kind === "repeat_reporter" ? badge("重复来访", "danger") : a.kind === "burst" ? badge("同类聚集", "danger") : a.kind || "—",
        a.category ? label("category", a.category) : (a.categories || []).map((c) => label("category", c)).join("、") || "—",
        a.kind === "repeat_reporter" ? `来访人 ${String(a.reporter_key || "").slice(0, 8)}…` : `${a.scope === "grid" ? "网格" : "街道"} ${a.area_code || "—"}`,
        a.count ?? "—",
        when(a.first_at),
        when(a.last_at),
        h("span", { class: "case-list" }, (a.case_nos || []).slice(0, 6).map((no) => [caseLink(no), " "]), (a.case_nos || []).length > 6 ? `等 ${a.case_nos.length} 件` : null),
      ]),
      { empty: "暂无预警" },
    ),
  );
}

// ------------------------------------------------------------------ router

const VIEWS = {
  dashboard: dashboardView,
  queue: queueView,
  case: caseView,
  stalled: stalledView,
  referrals: referralsView,
  alerts: alertsView,
};

let generation = 0;

async function route() {
  const mine = ++generation;
  const [, page = "", ...rest] = location.hash.split("/");
  const session = currentSession();
  clear(main);
  if (!session || page === "login") {
    if (session && page === "login") {
      location.hash = homeOf(session.role);
      return;
    }
    drawChrome(null);
    if (page !== "login") {
      location.hash = "#/login";
      return;
    }
    document.title = "登录 · 综治中心工作台";
    loginView();
    return;
  }
  const spec = PAGES.find((p) => p.path === page && p.roles.includes(session.role));
  if (!spec) {
    location.hash = homeOf(session.role);
    return;
  }
  drawChrome(session);
  document.title = `${spec.title} · 综治中心工作台`;
  quiet();
  try {
    await VIEWS[page](rest.map(decodeURIComponent).join("/") || undefined);
  } catch (err) {
    if (mine === generation) warn(err);
  }
  if (mine !== generation) return;
  if (pending) say(pending);
  pending = null;
  focusHeading();
}

window.addEventListener("hashchange", () => route());
route(); // a module script runs once the document is parsed
