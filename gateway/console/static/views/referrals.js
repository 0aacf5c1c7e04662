// 转办事项: the referrals a centre sees, or a department's own with its actions (acknowledge, reply, return).

import { api, currentSession } from "../api.js";
import { append, badge, clear, h, table, when } from "../dom.js";
import { label } from "../labels.js";
import { caseLink, field, heading, main, page, warn } from "../shell.js";
import { referralActions } from "./referral_actions.js";

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

page({ path: "referrals", title: "转办事项", roles: ["centre", "supervisor", "department"], view: referralsView });
