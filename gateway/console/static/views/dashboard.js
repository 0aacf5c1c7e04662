// 工作总览: key figures, rates and charts (Apache ECharts, echarts-charts.js) from /ops/summary, /ops/stats
// and /stats/resolution-levels.

import { api } from "../api.js";
import { append, clear, h, percent, table } from "../dom.js";
import { rateMeter, stat } from "../charts.js";
import { chartCard } from "../echarts-charts.js";
import { COLOURS, label } from "../labels.js";
import { heading, main, page } from "../shell.js";

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
  // Both ends: `from` alone would cover the gateway's default window from then on.
  const data = await api("/ops/stats", { optional: true, params: { by: "day", from: from.toISOString(), to: new Date().toISOString() } });
  if (!data) return [];
  const received = new Map((data.items || []).map((row) => [row.key, Number(row.received) || 0]));
  return days.map((day) => ({ label: day.slice(5), value: received.get(day) || 0 }));
}

// Cases received in each of the last MONTHS Beijing months up to now: under a year, so within the
// gateway's widest range (HUB_OPS_RANGE_MAX_DAYS, 366 by default, never less than 31). A range the
// gateway refuses (a narrower maximum) leaves the chart empty, not the page.
const MONTHS = 12;

async function monthly() {
  const [year, month] = shanghaiDay(new Date()).split("-").map(Number);
  const first = new Date(Date.UTC(year, month - MONTHS, 1)); // month - 11 months back, day 1 (may roll the year)
  const start = `${first.getUTCFullYear()}-${String(first.getUTCMonth() + 1).padStart(2, "0")}-01T00:00:00+08:00`;
  try {
    return await api("/ops/stats", { optional: true, params: { by: "month", from: new Date(start).toISOString(), to: new Date().toISOString() } });
  } catch {
    return null;
  }
}

// The period the key figures cover (the gateway's default window, stated by /ops/summary).
function period(summary) {
  if (!summary.from || !summary.to) return "";
  const days = Math.round((Date.parse(summary.to) - Date.parse(summary.from)) / DAY);
  return `统计范围：近 ${days} 天（${shanghaiDay(new Date(summary.from))} 至 ${shanghaiDay(new Date(summary.to))}，按受理时间）`;
}

// 办结层级: where closed cases were finally resolved (区县 / 街道 / 社区), over the cases the person may see.
const LEVELS = { district: "区县综治中心", street: "街道综治中心", community: "社区调解室" };

async function resolutionLevels() {
  try {
    const data = await api("/stats/resolution-levels", { optional: true });
    return ((data && data.by_level) || []).map((row) => ({ label: LEVELS[row.level] || row.level, value: Number(row.resolved) || 0 }));
  } catch {
    return []; // not answered for this person: the chart says 暂无数据, the rest of the page stands
  }
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
  const [byMonth, byCategory, byDepartment, trend, levels] = await Promise.all([
    monthly(),
    api("/ops/stats", { optional: true, params: { by: "category" } }),
    api("/ops/stats", { optional: true, params: { by: "department" } }),
    dailyTrend(),
    resolutionLevels(),
  ]);
  clear(body);
  body.removeAttribute("aria-busy");
  const s = summary;
  const byColour = Object.fromEntries(pairs(s.by_colour));
  const departments = (byDepartment && byDepartment.items) || [];
  const covered = period(s);
  if (covered) append(body, h("p", { class: "hint" }, covered));
  const departmentName = (key) => (key === "-" ? "未分拨" : key);
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
      chartCard({ title: `近 ${TREND_DAYS} 天每日受理`, file: "daily-received", kind: "line", items: trend, keyTitle: "日期", wide: true }),
      chartCard({
        title: "每月受理",
        file: "monthly-received",
        kind: "bar",
        items: pairs(byMonth && byMonth.items).map(([k, v]) => ({ label: k, value: v })),
        keyTitle: "月份",
      }),
      chartCard({
        title: "风险颜色分布",
        file: "colour-mix",
        kind: "bar",
        items: COLOURS.map((c) => ({ label: label("colour", c), value: Number(byColour[c] || 0), colour: c })),
        keyTitle: "风险颜色",
      }),
      chartCard({ title: "办结层级分布", file: "resolved-by-level", kind: "bar", items: levels, keyTitle: "化解层级", valueTitle: "办结（件）" }),
      chartCard({
        title: "各部门超期事项",
        file: "overdue-by-department",
        kind: "hbar",
        items: departments.map((d) => ({ label: departmentName(d.key), value: Number(d.overdue) || 0 })),
        keyTitle: "牵头部门",
        valueTitle: "超期（件）",
        emptyText: departments.length ? "没有超期事项" : "暂无数据",
      }),
      chartCard({ title: "事项状态", file: "by-status", kind: "bar", items: pairs(s.by_status).map(([k, v]) => ({ label: label("caseStatus", k), value: v })), keyTitle: "状态" }),
      chartCard({ title: "受理渠道", file: "by-channel", kind: "bar", items: pairs(s.by_channel).map(([k, v]) => ({ label: label("channel", k), value: v })), keyTitle: "渠道" }),
      chartCard({
        title: "类别分布",
        file: "by-category",
        kind: "hbar",
        items: pairs(byCategory && byCategory.items).map(([k, v]) => ({ label: label("category", k), value: v })),
        keyTitle: "类别",
      }),
    ),
  );
  body.append(
    h(
      "section",
      { "aria-labelledby": "dash-departments" },
      h("h2", { id: "dash-departments" }, "各部门办理情况"),
      table(
        "按牵头部门统计",
        ["牵头部门", "受理", "已调解", "已办结", "超期", "办结率", "满意率"],
        departments.map((d) => [departmentName(d.key), d.received, d.mediated, d.closed, d.overdue, percent(d.closure_rate), percent(d.satisfaction_rate)]),
      ),
    ),
  );
}

page({ path: "dashboard", title: "工作总览", roles: ["centre", "supervisor", "ops"], view: dashboardView });
