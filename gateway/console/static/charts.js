// Small SVG charts drawn here (no chart library, nothing fetched): bars, a daily trend line, rate meters.
// Each chart is a <figure> whose SVG has role="img" and a text description of every value.

import { h } from "./dom.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

let counter = 0;

function frame(title, description, width, height) {
  counter += 1;
  const id = `chart-${counter}`;
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-t ${id}-d`, class: "chart" },
    s("title", { id: `${id}-t` }, title),
    s("desc", { id: `${id}-d` }, description),
  );
  return svg;
}

function empty(title) {
  return h("figure", { class: "card chart-card" }, h("figcaption", {}, title), h("p", { class: "empty" }, "暂无数据"));
}

// items: [{label, value, colour?}]
export function barChart(title, items, { unit = "件" } = {}) {
  if (!items.length || items.every((i) => !i.value)) return empty(title);
  const rowH = 30;
  const width = 360;
  const labelW = 96;
  const height = items.length * rowH + 10;
  const max = Math.max(...items.map((i) => Number(i.value) || 0), 1);
  const description = items.map((i) => `${i.label} ${i.value} ${unit}`).join("，");
  const svg = frame(title, description, width, height);
  items.forEach((item, index) => {
    const y = 5 + index * rowH;
    const w = Math.max(2, ((Number(item.value) || 0) / max) * (width - labelW - 60));
    svg.append(
      s("text", { x: labelW - 8, y: y + 19, "text-anchor": "end", class: "axis" }, item.label),
      s("rect", { x: labelW, y: y + 4, width: w, height: rowH - 10, rx: 3, class: `bar ${item.colour || ""}` }),
      s("text", { x: labelW + w + 6, y: y + 19, class: "value" }, String(item.value)),
    );
  });
  return h("figure", { class: "card chart-card" }, h("figcaption", {}, title), svg);
}

// points: [{label: "2026-11-01", value}]
export function trendChart(title, points, { unit = "件" } = {}) {
  if (!points.length) return empty(title);
  const width = 900;
  const height = 200;
  const pad = { l: 36, r: 32, t: 12, b: 34 };
  const max = Math.max(...points.map((p) => Number(p.value) || 0), 1);
  const step = points.length > 1 ? (width - pad.l - pad.r) / (points.length - 1) : 0;
  const x = (i) => pad.l + (points.length > 1 ? i * step : (width - pad.l - pad.r) / 2);
  const y = (v) => pad.t + (1 - (Number(v) || 0) / max) * (height - pad.t - pad.b);
  const description = points.map((p) => `${p.label} ${p.value} ${unit}`).join("，");
  const svg = frame(title, description, width, height);
  svg.append(
    s("line", { x1: pad.l, y1: height - pad.b, x2: width - pad.r, y2: height - pad.b, class: "grid" }),
    s("line", { x1: pad.l, y1: pad.t, x2: pad.l, y2: height - pad.b, class: "grid" }),
    s("text", { x: pad.l - 6, y: pad.t + 10, "text-anchor": "end", class: "axis" }, String(max)),
    s("text", { x: pad.l - 6, y: height - pad.b, "text-anchor": "end", class: "axis" }, "0"),
  );
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  svg.append(s("path", { d: path, class: "trend" }));
  const every = Math.max(1, Math.ceil(points.length / 8));
  points.forEach((p, i) => {
    svg.append(s("circle", { cx: x(i), cy: y(p.value), r: 3, class: "dot" }));
    if (i % every === 0 || i === points.length - 1) {
      svg.append(s("text", { x: x(i), y: height - pad.b + 18, "text-anchor": "middle", class: "axis" }, String(p.label)));
    }
  });
  return h("figure", { class: "card chart-card wide" }, h("figcaption", {}, title), svg);
}

// A rate (0..1 or 0..100) as a labelled meter.
export function rateMeter(title, value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) {
    return h("figure", { class: "card rate" }, h("figcaption", {}, title), h("p", { class: "empty" }, "暂无数据"));
  }
  const n = Number(value) <= 1 ? Number(value) * 100 : Number(value);
  const text = `${n.toFixed(1)}%`;
  const bar = h("div", {
    class: "meter",
    role: "meter",
    "aria-valuemin": 0,
    "aria-valuemax": 100,
    "aria-valuenow": n.toFixed(1),
    "aria-label": `${title} ${text}`,
  });
  const fill = h("div", { class: "meter-fill" });
  fill.style.width = `${Math.min(100, Math.max(0, n))}%`;
  bar.append(fill);
  return h("figure", { class: "card rate" }, h("figcaption", {}, title), h("p", { class: "big" }, text), bar);
}

export function stat(title, value, { kind = "" } = {}) {
  return h("div", { class: `card stat ${kind}` }, h("p", { class: "stat-title" }, title), h("p", { class: "big" }, value ?? "—"));
}
