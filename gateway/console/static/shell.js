// The console's frame: messages, navigation by role, the hash router, and the small form helpers every
// view shares. Views register themselves with page(); app.js imports them in navigation order.

import { api, currentSession, logout, onSessionEnd } from "./api.js";
import { append, badge, clear, h } from "./dom.js";
import { checkForm, placeServerErrors, problemsSummary } from "./forms.js";
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
  const whoText = document.getElementById("who-text");
  const centre = session.centre ? ` · ${centreNames.get(session.centre) || `中心 ${session.centre}`}` : "";
  whoText.textContent = `${session.name} · ${label("role", session.role)}${dept}${centre}`;
  if (session.centre && !centreNames.has(session.centre)) nameCentre(session);
}

// The centre tree (GET /centres: id = area code, level, name_zh, parent_id), read once per page load;
// null for roles that may not read it (a department) or when it cannot be read.
const centreNames = new Map();
let centreTree = null;

export async function centres() {
  if (!centreTree) {
    centreTree = api("/centres", { optional: true }).catch(() => null);
  }
  const tree = await centreTree;
  if (tree === null) centreTree = null; // try again next time
  return tree;
}

async function nameCentre(session) {
  if (!["centre", "supervisor", "ops"].includes(session.role)) return;
  const tree = await centres();
  const mine = (tree || []).find((c) => c.id === session.centre);
  if (!mine) return;
  centreNames.set(session.centre, `${mine.name_zh}（${mine.id}）`);
  const now = currentSession();
  if (now && now.userId === session.userId) drawChrome(now);
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

// Why the last session ended ("expired", "idle", "user" or null), told once to the login page.
export function takeEndReason() {
  const reason = endReason;
  endReason = null;
  return reason;
}

// Where a person was when their session ended by itself (expired, idle): after they sign in again
// in this page they go back there (a half-filled form restores its draft). Not for someone else
// signing in; kept in memory only (nothing of an ended session stays in sessionStorage but a draft).
let returnTo = null;
let lastUserId = null;

function rememberPlace(reason) {
  const here = location.hash;
  returnTo = (reason === "expired" || reason === "idle") && lastUserId && here.startsWith("#/") && !here.startsWith("#/login") ? { hash: here, userId: lastUserId } : null;
}

export function takeReturnTo(session) {
  const saved = returnTo;
  returnTo = null;
  return saved && session && saved.userId === session.userId ? saved.hash : null;
}

// Idle logout: no key, click, touch or scroll for IDLE_MINUTES ends the session (revoked at the
// gateway too) with a notice on the login page. localStorage "hub.console.idleSeconds" may only
// SHORTEN it (a test sets a few seconds; nobody can switch the logout off that way).
export const IDLE_MINUTES = 30;
const IDLE_OVERRIDE_KEY = "hub.console.idleSeconds";
let lastActivity = Date.now();

export function idleLimitMs() {
  const limit = IDLE_MINUTES * 60 * 1000;
  const override = Number(localStorage.getItem(IDLE_OVERRIDE_KEY));
  return Number.isFinite(override) && override > 0 ? Math.min(limit, override * 1000) : limit;
}

function watchIdle() {
  const touch = () => {
    lastActivity = Date.now();
  };
  for (const type of ["keydown", "pointerdown", "wheel", "touchstart", "input"]) {
    window.addEventListener(type, touch, { capture: true, passive: true });
  }
  const check = () => {
    const limit = idleLimitMs();
    if (currentSession() && Date.now() - lastActivity >= limit) logout("idle");
    if (!currentSession()) lastActivity = Date.now(); // the clock starts again at sign-in
    setTimeout(check, Math.max(500, Math.min(15000, limit / 4)));
  };
  check();
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

// A form behind a <summary>: checked field by field before anything is sent (forms.js), the API's
// field errors put back on their fields; `explain` says a refusal in the person's words.
export function actionForm(summaryText, fields, submitText, onSubmit, { explain = null, fieldMessage } = {}) {
  const form = h("form", { class: "action-form", novalidate: true }, fields, h("button", { type: "submit" }, submitText));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    quiet();
    const problems = checkForm(form);
    if (problems.length) {
      warn(problemsSummary(problems));
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await onSubmit(form.elements);
    } catch (err) {
      placeServerErrors(form, err, fieldMessage);
      warn(explain ? explain(err) : err);
    } finally {
      button.disabled = false;
    }
  });
  return h("details", { class: "action" }, h("summary", {}, summaryText), form);
}

export function field(id, text, input) {
  input.id = id;
  input.setAttribute("aria-describedby", `${id}-error`);
  if (input.required) input.setAttribute("aria-required", "true");
  return h("div", { class: "field" }, h("label", { for: id }, text), input, h("p", { class: "field-error", id: `${id}-error` }));
}

export function select(name, kind, codes) {
  return h("select", { name }, codes.map((c) => h("option", { value: c }, label(kind, c))));
}

// ------------------------------------------------------------------ router

let generation = 0;

export async function route() {
  const mine = ++generation;
  const [hashPath, hashQuery = ""] = location.hash.split("?");
  const [, page = "", ...rest] = hashPath.split("/");
  const session = currentSession();
  clear(main);
  if (page !== "login" && PUBLIC[page]) {
    // A page open to anyone (the identity provider's answer, #/oidc?code=…): it starts a session.
    drawChrome(null);
    await PUBLIC[page](new URLSearchParams(hashQuery));
    return;
  }
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
  lastUserId = session.userId;
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
    rememberPlace(reason);
    endReason = reason;
    if (location.hash !== "#/login") location.hash = "#/login";
    else route();
  });
  window.addEventListener("hashchange", () => route());
  watchIdle();
  route(); // a module script runs once the document is parsed
}
