// Every form's checks, in the person's words: each field's own Chinese error under it (aria-invalid,
// aria-describedby), the first bad field focused, and nothing sent while one is wrong. The browser's
// own validation bubbles are off (novalidate): they cannot be read by a screen reader in our words,
// and they let whitespace through as "filled in". A refusal from the API (422 with `errors[].field`)
// lands on the field it names in the same way.

import { h } from "./dom.js";

// "协办单位（可多选，按住 Ctrl）" → "协办单位": the label without its hint, for messages.
function fieldName(el) {
  const text = el.dataset.label || (el.labels && el.labels[0] ? el.labels[0].textContent : el.name || "");
  return text.replace(/（[^）]*）/g, "").replace(/\s*\*$/, "").trim();
}

function chosenCount(select) {
  return [...select.selectedOptions].filter((o) => o.value).length;
}

// The Chinese problem with one field's value, or "" when it is acceptable.
export function fieldProblem(el) {
  const name = fieldName(el);
  const required = el.required || el.getAttribute("aria-required") === "true";
  if (el.tagName === "SELECT") {
    if (required && chosenCount(el) === 0) return el.multiple ? `${name}：至少选择 1 项。` : `请选择${name}。`;
    return "";
  }
  if (el.type === "file") return required && !el.files.length ? `请选择${name}。` : "";
  if (el.type === "checkbox" || el.type === "radio" || el.type === "hidden") return "";
  if (el.validity && el.validity.badInput) return `${name}格式不正确，请重新填写。`;
  const value = el.type === "password" ? el.value : el.value.trim();
  if (!value) return required ? `请填写${name}。` : "";
  if (el.type === "number") {
    const n = Number(value);
    const min = el.min === "" ? -Infinity : Number(el.min);
    const max = el.max === "" ? Infinity : Number(el.max);
    if (!Number.isInteger(n) && el.step !== "any") return `${name}应为整数。`;
    if (n < min || n > max) return `${name}应在 ${el.min || "—"} 至 ${el.max || "—"} 之间。`;
    return "";
  }
  if (el.minLength > 0 && value.length < el.minLength) return `${name}至少填写 ${el.minLength} 个字（现有 ${value.length} 个）。`;
  if (el.maxLength > 0 && value.length > el.maxLength) return `${name}不能超过 ${el.maxLength} 个字（现有 ${value.length} 个）。`;
  return "";
}

function errorSlot(el) {
  let slot = el.id ? document.getElementById(`${el.id}-error`) : null;
  if (!slot && el.id) {
    slot = h("p", { class: "field-error", id: `${el.id}-error` });
    el.insertAdjacentElement("afterend", slot);
    const described = (el.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (!described.includes(slot.id)) el.setAttribute("aria-describedby", [...described, slot.id].join(" "));
  }
  return slot;
}

export function showFieldError(el, message) {
  const slot = errorSlot(el);
  if (message) el.setAttribute("aria-invalid", "true");
  else el.removeAttribute("aria-invalid");
  if (slot) slot.textContent = message || "";
}

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
}

// Checks every field; shows each problem on its field and focuses the first. The problems' texts.
export function checkForm(form) {
  clearFieldErrors(form);
  const problems = [];
  let first = null;
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    const problem = fieldProblem(el);
    if (!problem) continue;
    showFieldError(el, problem);
    problems.push(problem);
    first = first || el;
  }
  if (first) first.focus();
  return problems;
}

// "有 2 项需要修改：请填写原因。；…" — what the alert region says for a form that was not sent.
export function problemsSummary(problems) {
  return `有 ${problems.length} 项需要修改：${problems.join(" ")}`;
}

// A 422 from the API: each error whose field the form has goes under that field (the message already
// put into Chinese by `say`); true when at least one was placed.
export function placeServerErrors(form, err, say = (e) => e.message) {
  const errors = (err && err.status === 422 && err.body && Array.isArray(err.body.errors) && err.body.errors) || [];
  let first = null;
  for (const e of errors) {
    const name = String(e.field || "").replace(/^body\./, "").split(".")[0];
    const el = name && form.elements.namedItem(name);
    if (!el || el instanceof RadioNodeList) continue;
    showFieldError(el, say(e));
    first = first || el;
  }
  if (first) first.focus();
  return Boolean(first);
}
