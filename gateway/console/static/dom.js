// Tiny DOM helpers: every text goes in as a text node or attribute, never parsed as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const SHANGHAI = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
});

export function when(value) {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : SHANGHAI.format(date);
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  const minutes = Math.round(Math.abs(ms) / 60000);
  if (minutes < 1) return "不到 1 分钟";
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  return [days && `${days} 天`, hours && `${hours} 小时`, !days && mins && `${mins} 分钟`]
    .filter(Boolean)
    .join(" ");
}

export function percent(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  const n = Number(value);
  return `${(n <= 1 ? n * 100 : n).toFixed(1)}%`;
}

let tables = 0;

// A table with a caption and column headers (scope=col); rows are arrays of cells (text or nodes). Its
// wrapper scrolls sideways on a narrow screen, so it takes keyboard focus and is named by the caption
// (a keyboard user can scroll it too).
export function table(caption, headers, rows, { empty = "暂无数据" } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, `${caption}：${empty}`);
  const captionId = `table-caption-${++tables}`;
  return h(
    "div",
    { class: "table-wrap", role: "region", tabindex: "0", "aria-labelledby": captionId },
    h(
      "table",
      {},
      h("caption", { id: captionId }, caption),
      h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell ?? "—"))))),
    ),
  );
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind || ""}` }, text);
}

// An exact duration for the timeline: "40 毫秒", "3.2 秒", "5 分 12 秒", "3 小时 4 分", "2 天 3 小时".
// (duration() above rounds to minutes for the overview pages; a handoff of 40 ms is not "不到 1 分钟".)
export function exactDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return "—";
  const n = Math.abs(Number(ms));
  const sign = Number(ms) < 0 ? "-" : "";
  if (n < 1000) return `${sign}${Math.round(n)} 毫秒`;
  if (n < 60000) {
    const s = Math.round(n / 100) / 10;
    return s < 60 ? `${sign}${Number.isInteger(s) ? s : s.toFixed(1)} 秒` : `${sign}1 分 0 秒`;
  }
  const seconds = Math.round(n / 1000);
  if (seconds < 3600) return `${sign}${Math.floor(seconds / 60)} 分 ${seconds % 60} 秒`;
  const minutes = Math.round(n / 60000);
  if (minutes < 1440) return `${sign}${Math.floor(minutes / 60)} 小时 ${minutes % 60} 分`;
  const hours = Math.round(n / 3600000);
  return `${sign}${Math.floor(hours / 24)} 天 ${hours % 24} 小时`;
}

// A deadline's limit as the procedure counts it ("7 working_days" → "7 个工作日").
const LIMIT_UNITS = { working_days: "个工作日", days: "天", calendar_days: "个自然日", hours: "小时", minutes: "分钟" };
export function limitText(limit) {
  if (!limit) return "—";
  const [amount, unit] = String(limit).trim().split(/\s+/);
  return LIMIT_UNITS[unit] ? `${amount} ${LIMIT_UNITS[unit]}` : String(limit);
}
