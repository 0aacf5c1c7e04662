// A department's actions on one of its referrals, as its state allows (allowed_actions): 报到, 开始办理,
// 暂停/恢复计时, 申请延期, 答复, 退回; refusals told in Chinese. Shared by the inbox and the referral list.

import { api } from "../api.js";
import { h } from "../dom.js";
import { actionForm, field, say, select, warn } from "../shell.js";
import { RETURN_CODE_ZH, explain, fieldMessage } from "./case_actions.js";

export function referralActions(r, reload) {
  const allowed = r.allowed_actions || [];
  const id = encodeURIComponent(r.id);
  const box = h("div", { class: "row-actions" });
  const after = async (text) => {
    await reload();
    say(text);
  };
  const told = { explain, fieldMessage };
  const button = (text, path) =>
    h(
      "button",
      {
        type: "button",
        "aria-label": `${text}：事项 ${r.case_no}`,
        onclick: async (event) => {
          const b = event.currentTarget;
          b.disabled = true;
          try {
            await api(`/referrals/${id}/${path}`, { method: "POST" });
            await after(`已${text}：事项 ${r.case_no}。`);
          } catch (err) {
            warn(explain(err));
            b.disabled = false;
          }
        },
      },
      text,
    );
  if (allowed.includes("acknowledge")) box.append(button("报到", "acknowledge"));
  if (allowed.includes("start")) box.append(button("开始办理", "start"));
  if (allowed.includes("resume")) box.append(button("恢复计时", "resume"));
  if (allowed.includes("suspend")) {
    box.append(
      actionForm(
        `暂停计时 ${r.case_no}`,
        [field(`suspend-reason-${r.id}`, "暂停原因（如等待当事人补充材料）", h("textarea", { name: "reason", rows: 2, required: true, maxlength: 2000 }))],
        "确认暂停",
        async (f) => {
          await api(`/referrals/${id}/suspend`, { method: "POST", body: { reason: f.reason.value.trim() } });
          await after(`已暂停计时：事项 ${r.case_no}。`);
        },
        told,
      ),
    );
  }
  if (allowed.includes("request_extension")) {
    box.append(
      actionForm(
        `申请延期 ${r.case_no}`,
        [
          field(`ext-days-${r.id}`, "延长天数（按办理时限的计法，通常为工作日）", h("input", { type: "number", name: "working_days", min: 1, max: 365, required: true, value: 5 })),
          field(`ext-reason-${r.id}`, "延期理由", h("textarea", { name: "reason", rows: 2, required: true, maxlength: 2000 })),
        ],
        "提交延期申请",
        async (f) => {
          await api(`/referrals/${id}/extension`, { method: "POST", body: { working_days: Number(f.working_days.value), reason: f.reason.value.trim() } });
          await after(`已申请延期：事项 ${r.case_no}，等待中心审批。`);
        },
        told,
      ),
    );
  }
  if (allowed.includes("reply")) {
    box.append(
      actionForm(
        `答复 ${r.case_no}`,
        [
          field(`inbox-outcome-${r.id}`, "办理结果", select("outcome", "outcome", ["resolved", "mediated", "partially_resolved", "unresolved", "referred_to_litigation"])),
          field(`inbox-summary-${r.id}`, "答复内容", h("textarea", { name: "summary", rows: 3, required: true, maxlength: 4000 })),
        ],
        "提交答复",
        async (f) => {
          const summary = f.summary.value.trim();
          await api(`/referrals/${id}/reply`, { method: "POST", body: { outcome: f.outcome.value, summary } });
          await after(`已答复：事项 ${r.case_no}。`);
        },
        told,
      ),
    );
  }
  if (allowed.includes("return")) {
    box.append(
      actionForm(
        `退回 ${r.case_no}`,
        [
          field(`inbox-return-code-${r.id}`, "退回原因", h("select", { name: "reason_code" }, Object.entries(RETURN_CODE_ZH).map(([v, t]) => h("option", { value: v }, t)))),
          field(`inbox-return-reason-${r.id}`, "说明", h("textarea", { name: "reason", rows: 2, required: true, maxlength: 2000 })),
        ],
        "确认退回",
        async (f) => {
          await api(`/referrals/${id}/return`, { method: "POST", body: { reason_code: f.reason_code.value, reason: f.reason.value.trim() } });
          await after(`已退回：事项 ${r.case_no}。`);
        },
        told,
      ),
    );
  }
  return box.childNodes.length ? box : "—";
}
