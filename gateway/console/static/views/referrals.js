// 转办事项: the referrals a centre sees, or a department's own with its actions (acknowledge, reply, return).

import { api, currentSession } from "../api.js";
import { append, badge, clear, h, table, when } from "../dom.js";
import { label } from "../labels.js";
import { actionForm, caseLink, field, heading, main, page, say, select, warn } from "../shell.js";

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

page({ path: "referrals", title: "转办事项", roles: ["centre", "supervisor", "department"], view: referralsView });
