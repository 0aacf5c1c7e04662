// 办理操作 on the case page: what a dispatcher (centre) or supervisor (督办) may do with one case, each
// form with the fields its API needs and shown only when the case's state allows it (the API's
// allowed_actions). A refusal (409/422) is told in the person's words: the problem's Chinese title and
// detail, with the life cycle's English codes put into Chinese here.
//
// Also used by the worklist (views/tasks.js): explain(), registry(), centres(), extensionDecision().

import { api } from "../api.js";
import { badge, h, limitText, when } from "../dom.js";
import { label } from "../labels.js";
import { actionForm, field, flash, route, say } from "../shell.js";

// ------------------------------------------------------------------ the person's words

const CASE_ACTION_ZH = {
  dispatch: "分拨 / 改派",
  resolve_at_window: "窗口即时办结",
  start: "部门报到后开始办理",
  reply_received: "部门答复",
  callback_requested: "发起回访",
  rate_satisfied: "回访评价：满意",
  rate_basically_satisfied: "回访评价：基本满意",
  rate_dissatisfied: "回访评价：不满意",
  close: "销号",
  reopen: "重新办理",
  merge: "合并",
  withdraw: "撤回",
  return_to_channel: "回退来源渠道",
};
const REFERRAL_ACTION_ZH = {
  dispatch: "派发",
  acknowledge: "报到",
  start: "开始办理",
  suspend: "暂停计时",
  resume: "恢复计时",
  request_extension: "申请延期",
  approve_extension: "批准延期",
  deny_extension: "不批准延期",
  reply: "答复",
  return: "退回",
  cancel: "撤销",
};
const FIELD_ZH = {
  lead: "牵头单位",
  assisting: "协办单位",
  reason: "原因",
  colour: "风险颜色",
  purpose: "查看目的",
  to_centre: "下派中心",
  held_at: "会商时间",
  departments: "参会单位",
  decisions: "会商结论",
  into: "合并到事项编号",
  note: "说明",
  until: "推迟到",
  approved: "审批结果",
};
export const RETURN_CODE_ZH = {
  not_our_duty: "不属本部门职责",
  wrong_area: "不属本辖区",
  insufficient_info: "信息不全",
  duplicate: "重复事项",
  other: "其他",
};
const LEVEL_ZH = { district: "区级", street: "街道", community: "社区" };

export function fieldMessage(e) {
  const name = String(e.field || "")
    .replace(/^body\./, "")
    .split(".");
  const where = FIELD_ZH[name[0]] || name[0] || "";
  const m = String(e.message || "");
  let text = m;
  let n;
  if (/[\u4e00-\u9fff]/.test(m)) text = m;
  else if ((n = m.match(/at least (\d+) (character|item)/))) text = n[2] === "item" ? `至少选择 ${n[1]} 项` : `至少填写 ${n[1]} 个字`;
  else if ((n = m.match(/at most (\d+) (character|item)/))) text = n[2] === "item" ? `最多 ${n[1]} 项` : `最多 ${n[1]} 个字`;
  else if (/required|missing/i.test(m)) text = "必填";
  else if (/unknown unit/i.test(m)) text = `未知单位 ${m.split(" ").pop()}`;
  else if (/unknown centre/i.test(m)) text = `未知中心 ${m.split(" ").pop()}`;
  else if (/timezone|datetime/i.test(m)) text = "时间格式不正确";
  return `${where}：${text}`;
}

// What a refusal says to the person: never an English code alone.
export function explain(err) {
  if (!err || typeof err !== "object" || !err.status) return typeof err === "string" ? err : `出错了：${err}`;
  const body = err.body || {};
  const type = String(body.type || "");
  if (err.status === 409 && type.endsWith("transition-refused")) {
    const isCase = body.machine === "case";
    const names = isCase ? CASE_ACTION_ZH : REFERRAL_ACTION_ZH;
    const state = label(isCase ? "caseStatus" : "referralStatus", String(body.current_state || "").replace(/ \(suspended\)$/, ""));
    // What the person could do instead (the hub's own steps — a department's reply, 回访 started by SMS — left out).
    const own = ["start", "reply_received", "callback_requested", "reopen", "resolve_at_window", "cancel"];
    const allowed = (body.allowed_actions || []).filter((a) => !isCase || !own.includes(a)).map((a) => names[a] || a);
    const what = names[body.action] || body.action || "该操作";
    return `操作未执行：${isCase ? "事项" : "转办"}当前为「${state}」，不能「${what}」。${allowed.length ? `现在可以：${allowed.join("、")}。` : "已是终态，不能再办理。"}`;
  }
  if (err.status === 422 && Array.isArray(body.errors) && body.errors.length) {
    return `${err.title}：${body.errors.map(fieldMessage).join("；")}`;
  }
  if (err.status === 404) return `${err.title}：${err.detail || "该事项不在您的辖区内或不存在"}（可能已上报或移交，您无权查看）`;
  if (err.status === 403) return `无权执行：${err.detail || err.title}`;
  if (err.status === 429) return `${err.title}：${err.detail || "操作过于频繁，请稍后再试"}`;
  return err.detail ? `${err.title}：${err.detail}` : err.title;
}

// An action form whose refusal is explained (the form stays filled in, nothing is changed).
function act(summary, fields, submit, onSubmit, { id } = {}) {
  const details = actionForm(summary, fields, submit, onSubmit, { explain, fieldMessage });
  if (id) details.dataset.action = id;
  return details;
}

// ------------------------------------------------------------------ registry and centre tree

let registryCache = null;
let centresCache = null;

// The department registry (GET /departments): the units a case can be dispatched to. Not personal data.
export async function registry() {
  if (!registryCache) registryCache = api("/departments").catch((err) => ((registryCache = null), Promise.reject(err)));
  return registryCache;
}

export async function centres() {
  if (!centresCache) centresCache = api("/centres").catch((err) => ((centresCache = null), Promise.reject(err)));
  return centresCache;
}

// A <select> of units grouped by area (optgroups), the option text the unit's Chinese name.
function unitSelect(name, units, { multiple = false, selected = [], exclude = [], blank = null, required = false } = {}) {
  const byArea = new Map();
  for (const u of units.filter((u) => !exclude.includes(u.code))) {
    const key = u.area_name_zh || u.area_code;
    if (!byArea.has(key)) byArea.set(key, []);
    byArea.get(key).push(u);
  }
  const select = h(
    "select",
    { name, multiple, required, size: multiple ? 6 : undefined },
    blank ? h("option", { value: "" }, blank) : null,
    [...byArea].map(([area, list]) =>
      h(
        "optgroup",
        { label: area },
        list.map((u) => h("option", { value: u.code, selected: selected.includes(u.code) }, `${u.name_zh}（${u.type_name_zh}）`)),
      ),
    ),
  );
  return select;
}

function chosen(select) {
  return [...select.selectedOptions].map((o) => o.value).filter(Boolean);
}

// ------------------------------------------------------------------ the section on the case page

const OPEN = (c) => !["closed", "merged", "withdrawn", "returned_to_channel"].includes(c.status);

export async function caseActions(c, session) {
  if (!["centre", "supervisor"].includes(session.role)) return null;
  const no = encodeURIComponent(c.case_no);
  const allowed = new Set(c.allowed_actions || []);
  const [units, tree] = await Promise.all([registry().catch(() => []), centres().catch(() => [])]);
  const current = (c.referrals || []).filter((r) => r.round === c.round && r.status !== "cancelled");
  const lead = current.find((r) => r.role === "lead");
  const done = async (text) => {
    flash(text);
    await route();
  };
  const section = h(
    "section",
    { "aria-labelledby": "case-actions", class: "actions" },
    h("h2", { id: "case-actions" }, "办理操作"),
    h("p", { class: "hint" }, `当前状态：${label("caseStatus", c.status)}。只显示此状态下可办理的操作。`),
  );
  const add = (...nodes) => section.append(...nodes.filter(Boolean));

  // 退回的处理: a department returned its referral; the case waits in the dispatcher's queue.
  const pendingReturn = (c.dispatch_queue || []).find((q) => q.reason_code === "returned" && !q.resolved_at);
  if (pendingReturn && allowed.has("dispatch")) add(returnDecision(c, pendingReturn, units, done));

  if (allowed.has("dispatch")) {
    const again = current.length > 0 || (c.referrals || []).length > 0;
    add(
      act(
        again ? "改派（重新指定牵头和协办单位）" : "人工分拨",
        [
          field("dispatch-lead", "牵头单位", unitSelect("lead", units, { selected: lead ? [lead.department] : [], blank: "请选择牵头单位", required: true })),
          field(
            "dispatch-assisting",
            "协办单位（可多选，按住 Ctrl）",
            unitSelect("assisting", units, { multiple: true, selected: current.filter((r) => r.role === "assisting").map((r) => r.department) }),
          ),
        ],
        again ? "确认改派" : "确认分拨",
        async (f) => {
          await api(`/cases/${no}/dispatch`, { method: "POST", body: { lead: f.lead.value, assisting: chosen(f.assisting) } });
          await done(again ? "已改派。" : "已分拨。");
        },
        { id: "dispatch" },
      ),
    );
  }

  // 延期审批: each referral whose department asked for more time.
  for (const r of current.filter((r) => (r.allowed_actions || []).includes("approve_extension"))) {
    add(extensionDecision(r, done));
  }

  if (OPEN(c)) {
    add(
      act(
        "调整风险颜色（需说明理由）",
        [
          field("override-colour", "风险颜色", h("select", { name: "colour" }, ["red", "orange", "yellow", "blue"].map((k) => h("option", { value: k, selected: k === c.colour }, label("colour", k))))),
          field("override-reason", "调整理由", h("textarea", { name: "reason", rows: 2, required: true, minlength: 2, maxlength: 500 })),
        ],
        "确认调整",
        async (f) => {
          await api(`/cases/${no}/assessment`, { method: "POST", body: { colour: f.colour.value, reason: f.reason.value.trim() } });
          await done(`风险颜色已调整为${label("colour", f.colour.value)}。`);
        },
        { id: "override" },
      ),
    );
  }

  // 上报 / 下派 within the centre tree.
  const holding = tree.find((t) => t.id === c.centre_id);
  const parent = holding && tree.find((t) => t.id === holding.parent_id);
  const below = holding ? tree.filter((t) => t.parent_id === holding.id) : [];
  if (OPEN(c) && parent) {
    add(
      act(
        `上报至${parent.name_zh}`,
        [
          h("p", { class: "hint" }, `本事项由${holding.name_zh}持有；上报后由${parent.name_zh}（${LEVEL_ZH[parent.level] || parent.level}）办理。`),
          field("escalate-reason", "上报理由", h("textarea", { name: "reason", rows: 2, required: true, maxlength: 2000 })),
        ],
        "确认上报",
        async (f) => {
          await api(`/cases/${no}/escalate`, { method: "POST", body: { reason: f.reason.value.trim() } });
          // After 上报 the case is held above this person's centre: reading it again may be refused,
          // so the page stays as it was, with the outcome said.
          say(`已上报至${parent.name_zh}。`);
          for (const d of section.querySelectorAll("details.action")) d.open = false;
        },
        { id: "escalate" },
      ),
    );
  }
  if (OPEN(c) && below.length) {
    add(
      act(
        "下派至下级中心",
        [
          field("delegate-to", "下派到", h("select", { name: "to_centre", required: true }, below.map((t) => h("option", { value: t.id }, t.name_zh)))),
          field("delegate-reason", "下派说明", h("textarea", { name: "reason", rows: 2, maxlength: 2000 })),
        ],
        "确认下派",
        async (f) => {
          const body = { to_centre: f.to_centre.value };
          if (f.reason.value.trim()) body.reason = f.reason.value.trim();
          await api(`/cases/${no}/delegate`, { method: "POST", body });
          await done(`已下派至${f.to_centre.selectedOptions[0].textContent}。`);
        },
        { id: "delegate" },
      ),
    );
  }

  if (OPEN(c)) {
    add(
      act(
        "记录联席会商",
        [
          field("meeting-at", "会商时间", h("input", { type: "datetime-local", name: "held_at", required: true })),
          field("meeting-departments", "参会单位（可多选）", unitSelect("departments", units, { multiple: true, required: true, selected: current.map((r) => r.department) })),
          field("meeting-conclusion", "会商结论（每行一条）", h("textarea", { name: "decisions", rows: 3, maxlength: 4000 })),
        ],
        "保存会商记录",
        async (f) => {
          const at = new Date(f.held_at.value);
          const departments = chosen(f.departments);
          const decisions = f.decisions.value.split("\n").map((s) => s.trim()).filter(Boolean);
          await api(`/cases/${no}/meetings`, { method: "POST", body: { held_at: at.toISOString(), departments, decisions } });
          await done("会商记录已保存。");
        },
        { id: "meeting" },
      ),
    );
  }

  if (allowed.has("rate_satisfied") || allowed.has("callback_requested")) {
    add(
      act(
        "回访评价",
        [
          field("callback-satisfaction", "满意度", h("select", { name: "satisfaction" }, ["satisfied", "basically_satisfied", "dissatisfied"].map((k) => h("option", { value: k }, label("satisfaction", k))))),
          field("callback-comment", "回访记录（可空）", h("textarea", { name: "comment", rows: 2, maxlength: 2000 })),
        ],
        "提交回访",
        async (f) => {
          const body = { satisfaction: f.satisfaction.value };
          if (f.comment.value.trim()) body.comment = f.comment.value.trim();
          await api(`/cases/${no}/callback`, { method: "POST", body });
          await done("回访已记录。");
        },
        { id: "callback" },
      ),
    );
  }

  if (allowed.has("close")) {
    add(
      act("销号", [h("p", { class: "hint" }, "确认事项已办结并销号。")], "确认销号", async () => {
        await api(`/cases/${no}/close`, { method: "POST" });
        await done("已销号。");
      }, { id: "close" }),
    );
  }
  if (allowed.has("withdraw")) {
    add(
      act(
        "撤回（群众撤诉）",
        [field("withdraw-reason", "撤回原因", h("textarea", { name: "reason", rows: 2, required: true, maxlength: 2000 }))],
        "确认撤回",
        async (f) => {
          await api(`/cases/${no}/withdraw`, { method: "POST", body: { reason: f.reason.value.trim() } });
          await done("已撤回，未办结的转办已撤销。");
        },
        { id: "withdraw" },
      ),
    );
  }
  if (allowed.has("merge")) {
    add(
      act(
        "合并到其他事项",
        [
          field("merge-into", "合并到事项编号", h("input", { name: "into", required: true, value: c.duplicate_of || "", spellcheck: "false" })),
          field("merge-reason", "原因", h("input", { name: "reason", required: true, minlength: 2 })),
        ],
        "确认合并",
        async (f) => {
          await api(`/cases/${no}/merge`, { method: "POST", body: { into: f.into.value.trim(), reason: f.reason.value.trim() } });
          await done("已合并。");
        },
        { id: "merge" },
      ),
    );
  }
  if (c.duplicate_of && OPEN(c)) {
    add(
      act("不是重复（解除关联）", [field("unlink-reason", "原因", h("input", { name: "reason", required: true, minlength: 2 }))], "解除关联", async (f) => {
        await api(`/cases/${no}/unlink`, { method: "POST", body: { reason: f.reason.value.trim() } });
        await done("已解除疑似重复关联。");
      }, { id: "unlink" }),
    );
  }
  add(revealPersonalData(c));
  return section;
}

// ------------------------------------------------------------------ pieces also used by the worklist

// 延期审批: approve (the new deadline shown) or deny, with a note.
export function extensionDecision(r, after) {
  const pending = [...(r.extensions || [])].reverse().find((e) => e.decided_at === null || e.decided_at === undefined);
  const id = encodeURIComponent(r.id);
  const ask = pending ? `申请延长 ${limitText(`${pending.amount} ${pending.unit}`)}，理由：${pending.reason}` : "部门申请延期";
  return act(
    `审批延期：${r.department_name || r.department}`,
    [
      h("p", { class: "hint" }, `${ask}。当前办理时限：${when(r.due_at)}。`),
      field(`ext-approved-${r.id}`, "审批结果", h("select", { name: "approved" }, h("option", { value: "true" }, "批准延期"), h("option", { value: "false" }, "不批准"))),
      field(`ext-note-${r.id}`, "审批意见（可空）", h("textarea", { name: "note", rows: 2, maxlength: 2000 })),
    ],
    "提交审批",
    async (f) => {
      const approved = f.approved.value === "true";
      const body = { approved };
      if (f.note.value.trim()) body.note = f.note.value.trim();
      const answer = await api(`/referrals/${id}/extension/decision`, { method: "POST", body });
      const now = answer && answer.referral ? answer.referral : null;
      const text = approved ? `已批准延期，新的办理时限：${when(now ? now.due_at : null)}。` : `已不批准延期，办理时限仍为 ${when(now ? now.due_at : r.due_at)}。`;
      await after(text);
    },
    { id: "extension-decision" },
  );
}

// 退回的处理: accept the return (re-route to another lead) or refuse it (the department stays lead).
function returnDecision(c, entry, units, done) {
  const no = encodeURIComponent(c.case_no);
  const returned = (c.referrals || []).find((r) => r.id === entry.referral_id) || {};
  const assisting = (c.referrals || []).filter((r) => r.round === c.round && r.role === "assisting" && r.status !== "cancelled").map((r) => r.department);
  const box = h(
    "div",
    { class: "card return-decision", role: "group", "aria-labelledby": "return-decision" },
    h("h3", { id: "return-decision" }, "部门退回待处理"),
    h(
      "p",
      {},
      `${returned.department_name || entry.department || "部门"}于 ${when(returned.returned_at || entry.queued_at)} 退回：`,
      badge(RETURN_CODE_ZH[returned.return_reason_code] || entry.reason_code, "status"),
      ` ${returned.return_reason || entry.reason || ""}`,
    ),
    act(
      "接受退回，改派其他单位",
      [field("return-accept-lead", "新的牵头单位", unitSelect("lead", units, { exclude: [returned.department], blank: "请选择牵头单位", required: true }))],
      "接受退回并改派",
      async (f) => {
        await api(`/cases/${no}/dispatch`, { method: "POST", body: { lead: f.lead.value, assisting: assisting.filter((a) => a !== f.lead.value) } });
        await done("已接受退回并改派。");
      },
      { id: "return-accept" },
    ),
    returned.department
      ? act(
          "不予认可，仍由原单位牵头",
          [field("return-refuse-note", "说明（告知原单位）", h("textarea", { name: "note", rows: 2, maxlength: 2000 }))],
          "退回不予认可",
          async () => {
            await api(`/cases/${no}/dispatch`, { method: "POST", body: { lead: returned.department, assisting } });
            await done(`退回不予认可，已重新交${returned.department_name || returned.department}牵头办理。`);
          },
          { id: "return-refuse" },
        )
      : null,
  );
  return box;
}

// 查看个人信息: the reporter's data for a stated purpose (audited). Shown here only, never kept: the
// answer goes into this page's DOM and nowhere else (no storage, no cache: the API says no-store).
function revealPersonalData(c) {
  const out = h("div", { class: "revealed", "aria-live": "polite" });
  const details = act(
    "查看当事人个人信息（需说明目的，留痕）",
    [field("reveal-purpose", "查看目的", h("input", { name: "purpose", required: true, maxlength: 200, placeholder: "如：电话联系当事人安排调解" }))],
    "查看",
    async (f) => {
      const purpose = f.purpose.value.trim();
      out.textContent = "";
      const data = await api(`/cases/${encodeURIComponent(c.case_no)}/personal-data`, { method: "POST", body: { purpose } });
      out.append(
        h(
          "dl",
          { class: "facts", "aria-label": "当事人个人信息" },
          data.anonymous
            ? [h("dt", {}, "当事人"), h("dd", {}, "匿名反映")]
            : [
                [h("dt", {}, "姓名"), h("dd", {}, data.name || "—")],
                [h("dt", {}, "电话"), h("dd", {}, data.phone || "—")],
                [h("dt", {}, "证件号码"), h("dd", {}, data.id_number || "—")],
              ],
        ),
      );
      say("已显示个人信息（本次查看已留痕）。");
    },
    { id: "reveal" },
  );
  details.append(out);
  return details;
}
