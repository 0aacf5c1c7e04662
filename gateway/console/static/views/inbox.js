// 待办收件箱 (department staff): the department's open referrals, those to acknowledge (报到) first, then
// the overdue, then by deadline; each with the actions its state allows (allowed_actions): 报到, 开始办理,
// 暂停/恢复计时, 申请延期, 答复, 退回.

import { api } from "../api.js";
import { append, badge, clear, h, limitText, table, when } from "../dom.js";
import { label } from "../labels.js";
import { heading, main, page } from "../shell.js";
import { referralActions } from "./referral_actions.js";

const OPEN = ["dispatched", "acknowledged", "in_progress", "extension_requested"];

// To acknowledge first, then overdue, then the nearest deadline.
export function inboxOrder(a, b) {
  const ack = (r) => (r.status === "dispatched" ? 0 : 1);
  const due = (r) => new Date(r.status === "dispatched" ? r.ack_due_at : r.due_at).getTime();
  return ack(a) - ack(b) || Number(b.overdue) - Number(a.overdue) || due(a) - due(b);
}

async function inboxView() {
  append(main, heading("待办收件箱"), h("p", { class: "hint" }, "待报到的排在最前，其次是已超期的，再按时限先后。"));
  const results = h("div");
  main.append(results);
  const load = async () => {
    const data = await api("/referrals", { params: { page_size: 200 } });
    const items = ((data && data.items) || []).filter((r) => OPEN.includes(r.status)).sort(inboxOrder);
    clear(results).append(
      table(
        `待办转办（${items.length} 件）`,
        ["事项编号", "角色", "状态", "报到时限", "办理时限", "延期", "督办", "操作"],
        items.map((r) => [
          r.case_no,
          label("role", r.role),
          [h("span", { "data-referral-status": r.id }, label("referralStatus", r.status)), r.suspended ? badge("暂停计时", "status") : null],
          [when(r.ack_due_at), r.status === "dispatched" && r.overdue ? badge("已超期", "danger") : null],
          [when(r.due_at), r.status !== "dispatched" && r.overdue ? badge("已超期", "danger") : null],
          extensionText(r),
          label("supervision", r.supervision_level),
          referralActions(r, load),
        ]),
        { empty: "没有待办的转办事项" },
      ),
    );
  };
  await load();
}

function extensionText(r) {
  const last = (r.extensions || [])[r.extensions.length - 1];
  if (!last) return "—";
  const amount = limitText(`${last.amount} ${last.unit}`);
  if (last.approved === true) return `已批准 ${amount}，新时限 ${when(last.new_due_at || r.due_at)}`;
  if (last.approved === false) return `未批准（${amount}）${last.note ? `：${last.note}` : ""}`;
  return `申请中：${amount}`;
}

page({ path: "inbox", title: "待办收件箱", roles: ["department"], view: inboxView });
