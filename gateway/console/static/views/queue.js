// 调度队列: cases waiting for a manual dispatch, returned ones, suspected duplicates.

import { api } from "../api.js";
import { append, h, table, when } from "../dom.js";
import { label } from "../labels.js";
import { caseLink, colourBadge, heading, main, page } from "../shell.js";

async function queueView() {
  append(main, heading("调度队列"));
  const data = await api("/dispatch-queue", { params: { limit: 200 } }); // the gateway's most per read
  const items = (data && data.items) || [];
  if (data && data.total > items.length) {
    main.append(h("p", { class: "hint" }, `队列共 ${data.total} 件，此处显示最早进入队列的 ${items.length} 件；分拨后其余依次显示。`));
  }
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

page({ path: "queue", title: "调度队列", roles: ["centre", "supervisor"], view: queueView });
