// 受理登记: the window registers a case (POST /api/v1/cases) — the canonical case's fields, checked in
// the browser first (Chinese messages next to each field, focus on the first bad one), area codes
// chosen from the centre tree, a warning with the similar open cases before submitting
// (POST /api/v1/cases/similar), then the colour with its reasons and a printable receipt (受理回执).
// The draft is kept in sessionStorage (this tab only) while it is being typed, so a session that ends
// half-way (idle logout, expiry) loses nothing: the same person signing in again finds it restored.

import { api, currentSession, onSessionEnd } from "../api.js";
import { append, badge, clear, h, table, when } from "../dom.js";
import { clearFieldErrors, showFieldError } from "../forms.js";
import { label } from "../labels.js";
import { caseLink, centres, colourBadge, dl, heading, main, page, quiet, say, warn } from "../shell.js";

const CHANNELS = ["window", "phone", "web", "grid_app", "petition"];
const REQUEST_TYPES = ["complaint", "help", "consultation", "report", "suggestion"];
const CATEGORIES = [
  "property", "neighbour", "family", "labour", "contract", "finance", "land_compensation", "construction_payment",
  "public_facilities_alteration", "noise", "sanitation", "public_security", "petition", "law_related",
  "public_interest_clue", "other",
];
const FLAGS = ["violence_threat", "self_harm_threat", "mass_gathering_risk", "vulnerable_person", "criminal_risk"];
const DRAFT_KEY = "hub.console.draft.register";
const DRAFT_MAX_AGE_MS = 12 * 3600 * 1000;

// ------------------------------------------------------------------ checks (mirror intake's model)

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";
const ID_PROVINCES = new Set([11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83]);

// GB 11643: 17 digits, a check character (ISO 7064 MOD 11-2), a real birth date; "" when it is right.
export function residentIdProblem(raw) {
  const value = raw.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(value)) return "身份证号应为 18 位：17 位数字加 1 位数字或 X。";
  if (!ID_PROVINCES.has(Number(value.slice(0, 2)))) return "身份证号前两位地区码不正确。";
  const [y, m, d] = [Number(value.slice(6, 10)), Number(value.slice(10, 12)), Number(value.slice(12, 14))];
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d || birth.getTime() > Date.now()) {
    return "身份证号中的出生日期不正确。";
  }
  const sum = ID_WEIGHTS.reduce((acc, w, i) => acc + w * Number(value[i]), 0);
  if (ID_CHECK[sum % 11] !== value[17]) return "身份证号校验位不正确，请核对后重新输入。";
  return "";
}

// A mainland mobile (11 digits from 13–19) or a landline with its area code (0xx-xxxxxxx), +86 allowed.
export function phoneProblem(raw) {
  const value = raw.replace(/[\s-]/g, "").replace(/^(\+86|0086)/, "");
  if (/^1[3-9]\d{9}$/.test(value) || /^0\d{2,3}\d{7,8}$/.test(value)) return "";
  return "请输入正确的联系电话：11 位手机号（如 13812345678），或带区号的固定电话（如 0472-5123456）。";
}

function tooLong(value, max, what) {
  return value.length > max ? `${what}不能超过 ${max} 个字（现有 ${value.length} 个）。` : "";
}

// ------------------------------------------------------------------ form building

function fieldRow(id, text, input, { hint, required, wide } = {}) {
  input.id = id;
  const errorId = `${id}-error`;
  const described = [hint ? `${id}-hint` : null, errorId].filter(Boolean).join(" ");
  input.setAttribute("aria-describedby", described);
  if (required) input.setAttribute("aria-required", "true");
  return h(
    "div",
    { class: `field${wide ? " wide" : ""}` },
    h("label", { for: id }, text, required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null),
    input,
    hint ? h("p", { class: "hint field-hint", id: `${id}-hint` }, hint) : null,
    h("p", { class: "field-error", id: errorId }),
  );
}

function options(kind, codes, { empty } = {}) {
  return [empty ? h("option", { value: "" }, empty) : null, codes.map((c) => h("option", { value: c }, label(kind, c)))];
}

// An error under the field of that name (a radio group's under its first button): forms.js's own.
function setError(form, name, message) {
  const input = form.elements[name];
  showFieldError(input instanceof RadioNodeList ? input[0] : input, message);
}

// Centres the person may register in: their centre's subtree (a community's own street is shown as
// the street it is in, so the community can be chosen).
function areaChoices(tree, session) {
  const byId = new Map(tree.map((c) => [c.id, c]));
  const within = (c) => {
    for (let at = c; at; at = byId.get(at.parent_id)) if (at.id === session.centre) return true;
    return !session.centre; // no centre: the whole hub
  };
  const mine = tree.filter(within);
  let streets = mine.filter((c) => c.level === "street");
  const own = byId.get(session.centre);
  if (!streets.length && own && own.level === "community" && byId.get(own.parent_id)) streets = [byId.get(own.parent_id)];
  const communities = mine.filter((c) => c.level === "community");
  return { streets, communities, communityRequired: Boolean(own && own.level === "community") };
}

function buildForm(choices) {
  const flagBoxes = FLAGS.map((f) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "flags", value: f }), label("flag", f)),
  );
  const form = h(
    "form",
    { class: "card register-form", novalidate: true, "aria-labelledby": "register-form-title" },
    h("h2", { id: "register-form-title" }, "事项信息"),
    h(
      "div",
      { class: "form-grid" },
      fieldRow("reg-channel", "受理渠道", h("select", { name: "channel" }, options("channel", CHANNELS)), { required: true }),
      fieldRow("reg-request-type", "诉求类型", h("select", { name: "request_type" }, options("requestType", REQUEST_TYPES)), { required: true }),
      fieldRow("reg-category", "纠纷类别", h("select", { name: "category" }, options("category", CATEGORIES, { empty: "由平台自动分类" })), {
        hint: "不确定时留空，平台按描述自动分类。",
      }),
      fieldRow("reg-title", "事项标题", h("input", { name: "title", maxlength: 220, autocomplete: "off" }), { required: true, wide: true, hint: "一句话概括，不超过 200 字。" }),
      fieldRow("reg-description", "事项描述", h("textarea", { name: "description", rows: 5 }), {
        required: true,
        wide: true,
        hint: "如实记录当事人所述，包括过激言行（平台据此研判风险），不超过 5000 字。",
      }),
    ),
    h("h2", {}, "反映人"),
    h(
      "div",
      { class: "form-grid" },
      h("div", { class: "field checkbox" }, h("input", { type: "checkbox", name: "anonymous", id: "reg-anonymous" }), h("label", { for: "reg-anonymous" }, "匿名反映（不登记姓名和电话，无短信告知和回访）")),
      fieldRow("reg-name", "姓名", h("input", { name: "name", maxlength: 60, autocomplete: "off" }), { required: true }),
      fieldRow("reg-phone", "联系电话", h("input", { name: "phone", inputmode: "tel", autocomplete: "off" }), { required: true, hint: "手机号可接收办理进度短信。" }),
      fieldRow("reg-id-number", "身份证号", h("input", { name: "id_number", autocomplete: "off", spellcheck: "false", maxlength: 20 }), { hint: "选填，18 位居民身份证号。" }),
    ),
    h("h2", {}, "事发地点"),
    h(
      "div",
      { class: "form-grid" },
      fieldRow("reg-address", "事发地址", h("input", { name: "address", maxlength: 320, autocomplete: "off" }), { required: true, wide: true }),
      fieldRow(
        "reg-street",
        "所属街道",
        h("select", { name: "street_code" }, h("option", { value: "" }, "请选择街道"), choices.streets.map((c) => h("option", { value: c.id }, `${c.name_zh}（${c.id}）`))),
        { required: true },
      ),
      fieldRow("reg-community", "所属社区", h("select", { name: "community_code" }, h("option", { value: "" }, choices.communityRequired ? "请选择社区" : "不细化到社区")), {
        required: choices.communityRequired,
        hint: "区划从中心目录中选择，不可手工输入。",
      }),
      fieldRow("reg-grid", "网格编码", h("input", { name: "grid_code", maxlength: 70, autocomplete: "off", spellcheck: "false" }), { hint: "选填。" }),
    ),
    h("h2", {}, "其他情况"),
    h(
      "div",
      { class: "form-grid" },
      fieldRow("reg-people", "涉及人数", h("input", { name: "people_involved", type: "number", min: 1, max: 100000, step: 1, value: "1", inputmode: "numeric" }), { required: true }),
      fieldRow("reg-amount", "涉及金额（元）", h("input", { name: "amount_yuan", inputmode: "decimal", autocomplete: "off" }), { hint: "选填，如 38000 或 1250.50。" }),
      fieldRow("reg-occurred", "发生时间", h("input", { name: "occurred_at", type: "datetime-local" }), { hint: "选填。" }),
      h("fieldset", { class: "flags wide" }, h("legend", {}, "风险情形（如有请勾选）"), flagBoxes),
    ),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary" }, "提交登记"), h("button", { type: "button", class: "reset-draft" }, "清空重填")),
  );
  fillCommunities(form, choices);
  form.elements.street_code.addEventListener("change", () => fillCommunities(form, choices));
  const anonymous = form.elements.anonymous;
  const syncAnonymous = () => {
    for (const name of ["name", "phone", "id_number"]) {
      form.elements[name].disabled = anonymous.checked;
      if (anonymous.checked) setError(form, name, "");
    }
  };
  anonymous.addEventListener("change", syncAnonymous);
  form.syncAnonymous = syncAnonymous;
  return form;
}

function fillCommunities(form, choices) {
  const select = form.elements.community_code;
  const street = form.elements.street_code.value;
  const keep = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const c of choices.communities.filter((x) => x.parent_id === street)) select.append(h("option", { value: c.id }, `${c.name_zh}（${c.id}）`));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

// ------------------------------------------------------------------ the draft (sessionStorage)

function valuesOf(form) {
  const values = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "submit" || el.type === "button" || el.type === "password") continue;
    if (el.name === "flags") {
      values.flags = values.flags || [];
      if (el.checked) values.flags.push(el.value);
    } else if (el.type === "checkbox") values[el.name] = el.checked;
    else values[el.name] = el.value;
  }
  return values;
}

function restore(form, values, choices) {
  for (const [name, value] of Object.entries(values)) {
    if (name === "flags") {
      for (const box of form.querySelectorAll("input[name=flags]")) box.checked = value.includes(box.value);
      continue;
    }
    const el = form.elements[name];
    if (!el || el instanceof RadioNodeList) continue;
    if (el.type === "checkbox") el.checked = Boolean(value);
    else el.value = value;
    if (name === "street_code") fillCommunities(form, choices);
  }
  form.syncAnonymous();
}

function readDraft(session) {
  try {
    const saved = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || "null");
    if (saved && saved.userId === session.userId && Date.now() - saved.savedAt < DRAFT_MAX_AGE_MS) return saved;
  } catch {
    /* an unreadable draft is no draft */
  }
  sessionStorage.removeItem(DRAFT_KEY);
  return null;
}

function saveDraft(session, form, key) {
  sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ userId: session.userId, savedAt: Date.now(), key, values: valuesOf(form) }));
}

export function dropDraft() {
  sessionStorage.removeItem(DRAFT_KEY);
}

// ------------------------------------------------------------------ validation and the body

function validate(form, choices) {
  const v = valuesOf(form);
  const problems = {};
  const title = v.title.trim();
  const description = v.description.trim();
  if (!title) problems.title = "请填写事项标题。";
  else problems.title = tooLong(title, 200, "事项标题");
  if (!description) problems.description = "请填写事项描述。";
  else problems.description = tooLong(description, 5000, "事项描述");
  if (!v.anonymous) {
    const name = v.name.trim();
    problems.name = !name ? "请填写反映人姓名；不愿留名请勾选“匿名反映”。" : tooLong(name, 50, "姓名");
    problems.phone = !v.phone.trim() ? "请填写联系电话；不愿留电话请勾选“匿名反映”。" : phoneProblem(v.phone);
    problems.id_number = v.id_number.trim() ? residentIdProblem(v.id_number) : "";
  }
  const address = v.address.trim();
  problems.address = !address ? "请填写事发地址。" : tooLong(address, 300, "事发地址");
  problems.street_code = !v.street_code ? "请从列表中选择所属街道。" : "";
  if (v.street_code && !choices.streets.some((c) => c.id === v.street_code)) problems.street_code = "请从列表中选择所属街道。";
  problems.community_code = choices.communityRequired && !v.community_code ? "请从列表中选择所属社区。" : "";
  const grid = v.grid_code.trim();
  problems.grid_code = grid && !/^[A-Za-z0-9_\-.]{1,64}$/.test(grid) ? "网格编码为 1–64 位字母、数字、下划线、连字符或点。" : "";
  const people = v.people_involved.trim();
  problems.people_involved = !/^\d+$/.test(people) || Number(people) < 1 || Number(people) > 100000 ? "涉及人数应为 1 至 100000 之间的整数。" : "";
  const amount = v.amount_yuan.trim();
  problems.amount_yuan = amount && (!/^\d+(\.\d{1,2})?$/.test(amount) || Number(amount) > 1e12) ? "涉及金额应为不小于 0 的数字，最多两位小数（单位：元）。" : "";
  if (v.occurred_at) {
    const at = new Date(v.occurred_at);
    problems.occurred_at = Number.isNaN(at.getTime()) ? "请输入正确的发生时间。" : at.getTime() > Date.now() + 5 * 60000 ? "发生时间不能晚于现在。" : "";
  }
  return problems;
}

function bodyOf(form) {
  const v = valuesOf(form);
  const reporter = v.anonymous
    ? { anonymous: true }
    : { name: v.name.trim(), phone: v.phone.trim(), ...(v.id_number.trim() ? { id_number: v.id_number.trim().toUpperCase() } : {}) };
  const location = { address: v.address.trim(), street_code: v.community_code || v.street_code };
  if (v.grid_code.trim()) location.grid_code = v.grid_code.trim();
  const body = {
    channel: v.channel,
    request_type: v.request_type,
    title: v.title.trim(),
    description: v.description.trim(),
    reporter,
    location,
    people_involved: Number(v.people_involved),
    flags: v.flags || [],
  };
  if (v.category) body.category = v.category;
  if (v.amount_yuan.trim()) body.amount_yuan = v.amount_yuan.trim();
  if (v.occurred_at) body.occurred_at = new Date(v.occurred_at).toISOString();
  return body;
}

// The service's field paths (problem details `errors[].field`) → the form's fields and what to say.
const SERVER_FIELDS = {
  channel: ["channel", "受理渠道不被接受。"],
  request_type: ["request_type", "诉求类型不被接受。"],
  category: ["category", "纠纷类别不被接受。"],
  title: ["title", "事项标题未通过平台校验（长度或包含不可用字符）。"],
  description: ["description", "事项描述未通过平台校验（长度或包含不可用字符）。"],
  "reporter.name": ["name", "姓名未通过平台校验（长度或包含不可用字符）。"],
  "reporter.phone": ["phone", "平台校验：该号码不是有效的大陆手机号或带区号的固定电话，请核对。"],
  "reporter.id_number": ["id_number", "平台校验：身份证号不正确，请核对。"],
  "location.address": ["address", "事发地址未通过平台校验。"],
  "location.street_code": ["street_code", "所属街道或社区不被接受，请重新选择。"],
  "location.grid_code": ["grid_code", "网格编码不被接受。"],
  people_involved: ["people_involved", "涉及人数不被接受。"],
  amount_yuan: ["amount_yuan", "涉及金额不被接受。"],
  occurred_at: ["occurred_at", "发生时间不被接受（不能晚于现在）。"],
  flags: ["flags", "风险情形不被接受。"],
};

// A refusal from the service: each error on its field where the form has one; the rest in the alert.
function showRefusal(form, err) {
  const errors = (err.body && Array.isArray(err.body.errors) && err.body.errors) || [];
  const placed = [];
  const rest = [];
  for (const e of errors) {
    const found = SERVER_FIELDS[e.field];
    if (found && found[0] !== "flags") {
      setError(form, found[0], found[1]);
      placed.push(found[0]);
    } else rest.push(e);
  }
  if (placed.length) {
    focusField(form, placed[0]);
    warn(rest.length ? `${err.title}：${rest.map((e) => e.field).join("、")}` : `${err.title}：请按各栏提示修改后重新提交。`);
  } else if (err.status === 409) {
    warn(`未能登记：${err.detail || err.title}`);
  } else {
    warn(err);
  }
}

function focusField(form, name) {
  const el = form.elements[name];
  const target = el instanceof RadioNodeList ? el[0] : el;
  if (target) target.focus();
}

// ------------------------------------------------------------------ similar cases, result, receipt

function similarPanel(items, onGo, onBack) {
  const go = h("button", { type: "button", class: "primary" }, "仍然提交");
  const back = h("button", { type: "button" }, "返回修改");
  go.addEventListener("click", onGo);
  back.addEventListener("click", onBack);
  const panel = h(
    "section",
    { class: "card similar-warning", role: "region", "aria-labelledby": "similar-title" },
    h("h2", { id: "similar-title", tabindex: "-1" }, `发现 ${items.length} 件可能重复的在办事项`),
    h("p", {}, "以下事项与本次登记的反映人或地址相同、类别相同、内容相近（7 天内）。请先核对，确认不是同一事项再提交。"),
    table(
      "相似的在办事项",
      ["事项编号", "标题", "状态", "风险颜色", "登记时间", "相同之处"],
      items.map((s) => [
        caseLink(s.case_no),
        s.title,
        label("caseStatus", s.status),
        colourBadge(s.colour),
        when(s.registered_at),
        [s.same_reporter ? "同一反映人" : null, s.same_address ? "同一地址" : null].filter(Boolean).join("、"),
      ]),
    ),
    h("div", { class: "form-actions" }, go, back),
  );
  return panel;
}

function reasonsList(reasons) {
  if (!reasons || !reasons.length) return h("p", { class: "hint" }, "未触发风险规则（按默认等级）。");
  return h(
    "ol",
    { class: "reasons" },
    reasons.map((r) =>
      h(
        "li",
        {},
        colourBadge(r.colour),
        " ",
        r.description_zh || r.rule_id,
        r.evidence && r.evidence.length
          ? h(
              "ul",
              { class: "evidence" },
              r.evidence.map((e) => h("li", {}, "原文：", h("q", {}, e.quote), e.reason_zh ? `（${e.reason_zh}）` : "")),
            )
          : null,
      ),
    ),
  );
}

function masked(name) {
  if (!name) return "匿名";
  const chars = [...name];
  return chars[0] + "*".repeat(Math.max(1, chars.length - 1));
}

function receipt(result, sent, centreName, registeredAt) {
  const smsNote = sent.reporter.anonymous
    ? "本事项为匿名反映，不发送短信告知。可凭事项编号到受理窗口查询办理进度。"
    : "办理进度和结果将以短信告知（仅限手机号码）；也可凭事项编号到受理窗口或拨打中心电话查询，办结后将进行回访。";
  return h(
    "section",
    { class: "card receipt", id: "receipt", "aria-labelledby": "receipt-title" },
    h("h2", { id: "receipt-title" }, "受理回执"),
    h("p", { class: "receipt-centre" }, centreName),
    dl([
      ["事项编号", h("strong", { class: "receipt-no" }, result.case_no)],
      ["受理时间", when(registeredAt)],
      ["受理渠道", label("channel", sent.channel)],
      ["纠纷类别", label("category", result.category)],
      ["反映人", masked(sent.reporter.name)],
      ["事项摘要", sent.title],
    ]),
    h("p", { class: "receipt-follow" }, smsNote),
    h("p", { class: "receipt-sign" }, "（本回执仅证明事项已受理，请妥善保管事项编号）"),
  );
}

async function resultView(result, sent, session, again) {
  const found = await api(`/cases/${encodeURIComponent(result.case_no)}`, { optional: true }).catch(() => null);
  const reasons = (found && found.colour_reasons) || result.colour_reasons;
  const colour = (found && found.colour) || result.colour;
  const tree = (await centres()) || [];
  const centre = tree.find((c) => c.id === session.centre);
  const printButton = h("button", { type: "button", class: "primary" }, "打印受理回执");
  printButton.addEventListener("click", () => window.print());
  const againButton = h("button", { type: "button" }, "继续登记新事项");
  againButton.addEventListener("click", again);
  return h(
    "div",
    { class: "register-result" },
    h(
      "section",
      { class: "card", "aria-labelledby": "result-title" },
      h("h2", { id: "result-title", tabindex: "-1" }, `已受理：${result.case_no}`),
      dl([
        ["事项编号", caseLink(result.case_no)],
        ["风险颜色", colourBadge(colour)],
        ["响应等级", label("responseLevel", result.response_level)],
        ["纠纷类别", label("category", result.category)],
        ["状态", badge(label("caseStatus", result.status), "status")],
        ["疑似重复", result.duplicate_of ? caseLink(result.duplicate_of) : "否"],
      ]),
      h("h3", {}, "研判依据"),
      reasonsList(reasons),
      h("div", { class: "form-actions" }, printButton, againButton),
    ),
    receipt(result, sent, centre ? centre.name_zh : "综治中心", (found && found.registered_at) || new Date().toISOString()),
  );
}

// ------------------------------------------------------------------ the page

async function registerView() {
  const session = currentSession();
  append(main, heading("受理登记"));
  const tree = await centres();
  if (!tree) {
    main.append(h("div", { class: "card notice" }, h("h2", {}, "无法读取中心目录"), h("p", {}, "区划须从中心目录中选择，目录暂时无法读取，请稍后刷新重试。")));
    return;
  }
  const choices = areaChoices(tree, session);
  const form = buildForm(choices);
  const area = h("div", { class: "register-area" });
  main.append(h("p", { class: "hint" }, "带 * 的为必填项。提交前平台会提示可能重复的在办事项。"), area);
  area.append(form);

  const draft = readDraft(session);
  let key = (draft && draft.key) || crypto.randomUUID();
  if (draft) {
    restore(form, draft.values, choices);
    const text = "已恢复上次未提交的登记内容，请核对后继续。";
    area.prepend(h("p", { class: "card notice draft-restored" }, text));
    say(text);
  }
  let saving = null;
  form.addEventListener("input", () => {
    clearTimeout(saving);
    saving = setTimeout(() => saveDraft(session, form, key), 200);
  });
  form.addEventListener("change", () => saveDraft(session, form, key));
  // Leaving the page keeps the draft; it goes when the case is registered or the person clears it.

  form.querySelector(".reset-draft").addEventListener("click", () => {
    form.reset();
    fillCommunities(form, choices);
    form.syncAnonymous();
    clearFieldErrors(form);
    dropDraft();
    key = crypto.randomUUID();
    quiet();
    form.elements.channel.focus();
  });

  const submitButton = form.querySelector("button[type=submit]");

  async function register(body) {
    submitButton.disabled = true;
    try {
      const result = await api("/cases", { method: "POST", body, headers: { "Idempotency-Key": key } });
      dropDraft();
      clear(area);
      const again = () => {
        clear(area);
        form.reset();
        fillCommunities(form, choices);
        form.syncAnonymous();
        clearFieldErrors(form);
        key = crypto.randomUUID();
        quiet();
        area.append(form);
        form.elements.channel.focus();
      };
      area.append(await resultView(result, body, session, again));
      say(`事项已受理，编号 ${result.case_no}，风险颜色：${label("colour", result.colour)}。`);
      area.querySelector("#result-title").focus();
    } catch (err) {
      if (err.status === 401) return; // the session ended: the draft is kept for after sign-in
      showRefusal(form, err);
    } finally {
      submitButton.disabled = false;
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    quiet();
    clearFieldErrors(form);
    for (const old of area.querySelectorAll(".similar-warning")) old.remove();
    const problems = validate(form, choices);
    const bad = Object.entries(problems).filter(([, message]) => message);
    for (const [name, message] of bad) setError(form, name, message);
    if (bad.length) {
      warn(`有 ${bad.length} 项需要修改，请按各栏提示更正。`);
      focusField(form, bad[0][0]);
      return;
    }
    const body = bodyOf(form);
    saveDraft(session, form, key);
    submitButton.disabled = true;
    let similar = null;
    try {
      similar = await api("/cases/similar", {
        method: "POST",
        optional: true,
        body: {
          title: body.title,
          description: body.description,
          ...(body.category ? { category: body.category } : {}),
          address: body.location.address,
          ...(body.reporter.phone ? { phone: body.reporter.phone } : {}),
        },
      });
    } catch (err) {
      if (err.status === 401) return;
      similar = null; // the warning is a help, not a gate: registration still checks for duplicates
    } finally {
      submitButton.disabled = false;
    }
    if (similar && similar.items && similar.items.length) {
      const panel = similarPanel(
        similar.items,
        () => {
          panel.remove();
          register(body);
        },
        () => {
          panel.remove();
          form.elements.title.focus();
        },
      );
      area.prepend(panel);
      panel.querySelector("h2").focus();
      return;
    }
    await register(body);
  });
}

// Signing out on purpose leaves nothing behind in the tab; a session that ended by itself keeps it.
onSessionEnd((reason) => {
  if (reason === "user") dropDraft();
});

page({ path: "register", title: "受理登记", roles: ["centre", "supervisor"], view: registerView });
