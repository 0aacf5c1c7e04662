// 弱信号预警: bursts of like cases in one area and repeat reporters.

import { api } from "../api.js";
import { append, badge, h, table, when } from "../dom.js";
import { label } from "../labels.js";
import { caseLink, heading, main, page } from "../shell.js";

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

page({ path: "alerts", title: "弱信号预警", roles: ["centre", "supervisor", "ops"], view: alertsView });
