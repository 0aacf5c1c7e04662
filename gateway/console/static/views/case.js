// 事项查询: one case, its referrals, its timeline and the actions a dispatcher can take on it.

import { api, currentSession } from "../api.js";
import { append, badge, exactDuration, h, limitText, table, when } from "../dom.js";
import { label } from "../labels.js";
import { caseLink, colourBadge, dl, heading, main, page } from "../shell.js";
import { caseActions } from "./case_actions.js";

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

// The handling deadline's measure: the procedure's limit (working days for "135"), plus any approved
// extension, as the procedure counts it.
function handlingLimit(r) {
  const handling = [...(r.deadlines || [])].reverse().find((d) => d.kind === "handling");
  if (!handling) return "—";
  const base = limitText(handling.limit);
  const ext = (r.extensions || []).filter((e) => e.approved);
  return ext.length ? `${base}，已延期 ${ext.map((e) => limitText(`${e.amount} ${e.unit}`)).join("、")}` : base;
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
        ["重点人员（户）", keyPerson(c.key_person)],
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
        ["部门", "角色", "状态", "报到时限", "办理时限", "时限（工作日）", "督办", "超期"],
        referrals.map((r) => [
          r.department_name || r.department,
          label("role", r.role),
          label("referralStatus", r.status),
          when(r.ack_due_at),
          h("span", { "data-due": r.id }, when(r.due_at)),
          handlingLimit(r),
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
          i ? exactDuration(e.since_previous_ms ?? new Date(e.at) - new Date(entries[i - 1].at)) : "—",
          summariseDetail(e.detail) || "—",
          e.trace_id ? h("code", { title: `span ${e.span_id || "—"}` }, `${e.trace_id.slice(0, 12)}… / ${(e.span_id || "—").slice(0, 8)}`) : "—",
        ]),
        { empty: "暂无记录" },
      ),
    ),
  );
  const actions = await caseActions(c, currentSession() || {});
  if (actions) main.append(actions);
}

// A case by or about a key person (重点人员 / 七色户卡, issue 18): the flag only, never the person's data.
const KEY_PERSON_COLOURS = { red: "红色", orange: "橙色", yellow: "黄色", green: "绿色", cyan: "青色", blue: "蓝色", purple: "紫色" };
const MATCHED_BY = { phone: "电话", id_number: "证件号码", address: "地址" };
function keyPerson(flag) {
  if (!flag) return "否";
  const colour = KEY_PERSON_COLOURS[flag.colour] || flag.colour;
  const by = (flag.matched_by || []).map((m) => MATCHED_BY[m] || m).join("、");
  return `是：${colour}关注对象（按${by}匹配）`;
}

page({ path: "case", title: "事项查询", roles: ["centre", "supervisor", "ops"], view: caseView });
