// The dashboard's charts, drawn with Apache ECharts (vendor/echarts/echarts.min.js, loaded as a classic
// script by index.html before app.js: window.echarts). Nothing is fetched and nothing needs eval or an
// inline style attribute: the canvas renderer, tooltips drawn in the canvas (renderMode "richText"), the
// data view built here with DOM calls (docs/decisions/0018-charts-echarts.md).
//
// Each chart is a <figure>: its title (also drawn in the chart, so a saved PNG carries it), the chart
// (role="img", its aria-label the title and every figure, set through ECharts' aria option), buttons to
// save it as PNG and to download its figures as CSV (the same as the toolbox's icons, by keyboard),
// and the figures as a table under 查看数据.

import { h } from "./dom.js";

// Colours with enough contrast on white (WCAG 1.4.11, 3:1 for graphics): the yellow of a 黄色 case is
// too light alone, so every bar has a dark outline; text is ink or muted grey.
const INK = "#1f2328";
const MUTED = "#57606a";
const LINE = "#d0d7de";
const ACCENT = "#0b57d0";
const OUTLINE = "#3d3d3d";
export const CHART_COLOURS = { red: "#c62828", orange: "#e65100", yellow: "#f9a825", blue: "#1565c0" };
const FONT = '"PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", system-ui, sans-serif';
// A table icon for the toolbox's CSV feature (the image is saved by the download arrow).
const CSV_ICON = "path://M3 4h18v16H3zM3 9h18M3 14h18M10 9v11";

const live = new Set(); // charts drawn and not yet disposed
let counter = 0;

// "风险颜色分布：红色 2 件，橙色 1 件" — the chart's accessible name and the figure list of the data table.
export function describe(spec) {
  const unit = spec.unit ?? "件";
  const figures = spec.items.map((i) => `${i.label} ${i.value} ${unit}`).join("，");
  return `${spec.title}：${figures || "暂无数据"}`;
}

function csvCell(value) {
  const text = String(value ?? "");
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(spec) {
  const rows = [[spec.keyTitle || "项目", spec.valueTitle || `数量（${spec.unit ?? "件"}）`]];
  for (const item of spec.items) rows.push([item.label, item.value]);
  return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function download(href, filename) {
  const link = h("a", { href, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
}

function downloadCsv(spec) {
  // A byte-order mark so spreadsheet programs read the Chinese as UTF-8.
  const blob = new Blob(["\ufeff", toCsv(spec)], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  download(url, `${spec.file}.csv`);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function dataTable(spec) {
  return h(
    "table",
    { class: "chart-data" },
    h("caption", {}, `${spec.title}（数据）`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, spec.keyTitle || "项目"), h("th", { scope: "col" }, spec.valueTitle || `数量（${spec.unit ?? "件"}）`))),
    h("tbody", {}, spec.items.map((i) => h("tr", {}, h("th", { scope: "row" }, i.label), h("td", {}, String(i.value))))),
  );
}

export function chartOption(spec) {
  const horizontal = spec.kind === "hbar";
  const line = spec.kind === "line";
  const category = {
    type: "category",
    data: spec.items.map((i) => i.label),
    axisLabel: { color: MUTED, fontSize: 12, hideOverlap: true, interval: line ? "auto" : 0 },
    axisLine: { lineStyle: { color: MUTED } },
    axisTick: { alignWithLabel: true },
  };
  const value = {
    type: "value",
    minInterval: 1,
    axisLabel: { color: MUTED, fontSize: 12 },
    splitLine: { lineStyle: { color: LINE } },
  };
  const data = spec.items.map((i) => ({
    value: i.value,
    name: i.label,
    itemStyle: i.colour ? { color: CHART_COLOURS[i.colour] || i.colour } : undefined,
  }));
  return {
    animation: false, // figures at once (and nothing moving for people who asked for less motion)
    aria: { enabled: true, label: { enabled: true, description: describe(spec) } },
    textStyle: { fontFamily: FONT, color: INK },
    title: { text: spec.title, left: 8, top: 6, textStyle: { fontSize: 15, fontWeight: "bold", color: INK } },
    grid: { left: 12, right: horizontal ? 48 : 20, top: 48, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis", renderMode: "richText", axisPointer: { type: line ? "line" : "shadow" } },
    toolbox: {
      right: 8,
      top: 4,
      itemSize: 16,
      itemGap: 12,
      iconStyle: { borderColor: MUTED },
      emphasis: { iconStyle: { borderColor: ACCENT } },
      feature: {
        saveAsImage: { title: "保存为图片", name: spec.file, type: "png", pixelRatio: 2, backgroundColor: "#ffffff" },
        dataView: {
          title: "数据视图",
          readOnly: true,
          lang: [`${spec.title}（数据）`, "关闭", "刷新"],
          optionToContent: () => dataTable(spec),
        },
        myCsv: { show: true, title: "下载数据（CSV）", icon: CSV_ICON, onclick: () => downloadCsv(spec) },
      },
    },
    xAxis: horizontal ? value : category,
    yAxis: horizontal ? { ...category, inverse: true } : value,
    series: [
      {
        type: line ? "line" : "bar",
        name: spec.series || spec.title,
        data,
        color: ACCENT,
        barMaxWidth: 36,
        itemStyle: line ? undefined : { borderColor: OUTLINE, borderWidth: 1 },
        lineStyle: line ? { width: 2 } : undefined,
        symbolSize: 6,
        label: { show: !line || spec.items.length <= 16, position: horizontal ? "right" : "top", color: INK, fontSize: 12 },
      },
    ],
  };
}

function disposeDetached() {
  for (const chart of live) {
    if (!chart.getDom().isConnected) {
      chart.dispose();
      live.delete(chart);
    }
  }
}

// spec: {title, file (download name, ASCII), kind: "bar" | "hbar" | "line", items: [{label, value, colour?}],
//        unit?, keyTitle?, valueTitle?, wide?, emptyText? (said when every figure is 0)}
export function chartCard(spec) {
  counter += 1;
  const id = `echart-${counter}`;
  const holder = h("div", { class: "echart", id, role: "img", "aria-label": describe(spec), "data-chart": spec.file });
  if (spec.kind === "hbar") holder.style.height = `${Math.max(220, 80 + spec.items.length * 34)}px`;
  const empty = !spec.items.length || spec.items.every((i) => !i.value);
  // The title is drawn in the chart; the caption says it to a screen reader (shown when there is no chart).
  const figure = h(
    "figure",
    { class: `card chart-card${spec.wide ? " wide" : ""}`, "aria-labelledby": `${id}-title` },
    h("figcaption", { id: `${id}-title`, class: empty ? "" : "sr-only" }, spec.title),
  );
  if (empty) {
    figure.append(h("p", { class: "empty" }, spec.emptyText || "暂无数据"));
    return figure;
  }
  let chart = null;
  const actions = h(
    "div",
    { class: "chart-actions" },
    h("button", { type: "button", class: "chart-button", onclick: () => chart && download(chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#ffffff" }), `${spec.file}.png`) }, "保存图片（PNG）"),
    h("button", { type: "button", class: "chart-button", onclick: () => downloadCsv(spec) }, "下载数据（CSV）"),
  );
  figure.append(holder, actions, h("details", { class: "chart-figures" }, h("summary", {}, "查看数据"), dataTable(spec)));
  if (!window.echarts) {
    holder.append(h("p", { class: "empty" }, "图表库未加载，数据见下表。"));
    actions.hidden = true;
    return figure;
  }
  // Drawn when the holder first has a size (it is on the page and laid out), resized with it: a laptop
  // at 1366×768, a tablet, a window made narrower.
  new ResizeObserver(() => {
    if (!holder.isConnected || !holder.clientWidth) return;
    if (chart) {
      chart.resize();
      return;
    }
    disposeDetached();
    chart = window.echarts.init(holder, null, { renderer: "canvas", locale: "ZH" });
    chart.setOption(chartOption(spec));
    live.add(chart);
  }).observe(holder);
  return figure;
}
