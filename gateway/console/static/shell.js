// The console's frame: messages, navigation by role, the hash router, and the small form helpers every
// view shares. Views register themselves with page(); app.js imports them in navigation order.

import { currentSession, logout, onSessionEnd } from "./api.js";
import { append, badge, clear, h } from "./dom.js";
import { label } from "./labels.js";

export const main = document.getElementById("main");
const messages = document.getElementById("messages");
const alertsRegion = document.getElementById("alerts");

// ------------------------------------------------------------------ messages (aria-live regions)

export function say(text) {
  alertsRegion.textContent = "";
  messages.textContent = text;
}

export function warn(error) {
  messages.textContent = "";
  alertsRegion.textContent = typeof error === "string" ? error : error && error.title ? error.message : `出错了：${error}`;
}

// A message for the page the next route() draws (say() now would be cleared by that navigation).
let pending = null;
export function flash(text) {
  pending = text;
}

export function quiet() {
  messages.textContent = "";
  alertsRegion.textContent = "";
}

// ------------------------------------------------------------------ navigation by role

// {path, title, roles, view(rest)}: the pages in navigation order (the order views are imported).
const PAGES = [];
const PUBLIC = {};

export function page(spec) {
  PAGES.push(spec);
}

export function publicPage(name, view) {
  PUBLIC[name] = view;
}

export function homeOf(role) {
  return role === "department" ? "#/referrals" : "#/dashboard";
}

export function drawChrome(session) {
  const nav = document.getElementById("nav");
  const list = clear(document.getElementById("nav-list"));
  const who = document.getElementById("who");
  if (!session) {
    nav.hidden = true;
    who.hidden = true;
    return;
  }
  const current = (location.hash.split("/")[1] || "").split("?")[0];
  for (const page of PAGES.filter((p) => p.roles.includes(session.role))) {
    const text = session.role === "department" && page.path === "referrals" ? "本部门转办" : page.title;
    const link = h("a", { href: `#/${page.path}` }, text);
    if (page.path === current) link.setAttribute("aria-current", "page");
    list.append(h("li", {}, link));
  }
  nav.hidden = false;
  who.hidden = false;
  const dept = session.department ? ` · ${session.department}` : "";
  document.getElementById("who-text").textContent = `${session.name} · ${label("role", session.role)}${dept}`;
}

export function heading(text, ...extra) {
  const h1 = h("h1", { tabindex: "-1" }, text);
  return h("div", { class: "page-head" }, h1, ...extra);
}

export function focusHeading() {
  const h1 = main.querySelector("h1");
  if (h1) h1.focus();
}


// ------------------------------------------------------------------ session end

let endReason = null;

// Why the last session ended ("expired", "user" or null), told once to the login page.
export function takeEndReason() {
  const reason = endReason;
  endReason = null;
  return reason;
}

// ------------------------------------------------------------------ shared form and display helpers

export function caseLink(caseNo) {
  return h("a", { href: `#/case/${encodeURIComponent(caseNo)}` }, caseNo);
}

export function colourBadge(colour) {
  return colour ? badge(label("colour", colour), `colour-${colour}`) : "—";
}

export function dl(pairsList) {
  return h("dl", { class: "facts" }, pairsList.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

export function actionForm(summaryText, fields, submitText, onSubmit) {
  const form = h("form", { class: "action-form" }, fields, h("button", { type: "submit" }, submitText));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await onSubmit(form.elements);
    } catch (err) {
      warn(err);
    } finally {
      button.disabled = false;
    }
  });
  return h("details", { class: "action" }, h("summary", {}, summaryText), form);
}

export function field(id, text, input) {
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, text), input);
}

export function select(name, kind, codes) {
  return h("select", { name }, codes.map((c) => h("option", { value: c }, label(kind, c))));
}

// ------------------------------------------------------------------ router

let generation = 0;

export async function route() {
  const mine = ++generation;
  const [, page = "", ...rest] = location.hash.split("/");
  const session = currentSession();
  clear(main);
  if (!session || page === "login") {
    if (session && page === "login") {
      location.hash = homeOf(session.role);
      return;
    }
    drawChrome(null);
    if (page !== "login") {
      location.hash = "#/login";
      return;
    }
    document.title = "登录 · 综治中心工作台";
    PUBLIC.login();
    return;
  }
  const spec = PAGES.find((p) => p.path === page && p.roles.includes(session.role));
  if (!spec) {
    location.hash = homeOf(session.role);
    return;
  }
  drawChrome(session);
  document.title = `${spec.title} · 综治中心工作台`;
  quiet();
  try {
    await spec.view(rest.map(decodeURIComponent).join("/") || undefined);
  } catch (err) {
    if (mine === generation) warn(err);
  }
  if (mine !== generation) return;
  if (pending) say(pending);
  pending = null;
  focusHeading();
}


export function start() {
  document.getElementById("logout").addEventListener("click", () => {
    logout("user");
  });
  onSessionEnd((reason) => {
    endReason = reason;
    if (location.hash !== "#/login") location.hash = "#/login";
    else route();
  });
  window.addEventListener("hashchange", () => route());
  route(); // a module script runs once the document is parsed
}
