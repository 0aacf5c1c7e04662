// 超期滞留: every stalled case, whatever holds it (deadline, idle, outbox, dead letter, adapter, SMS).

import { api } from "../api.js";
import { append, badge, clear, duration, h, table, when } from "../dom.js";
import { COLOURS, label } from "../labels.js";
import { caseLink, colourBadge, field, heading, main, page, warn } from "../shell.js";

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

page({ path: "stalled", title: "超期滞留", roles: ["centre", "supervisor", "ops"], view: stalledView });
