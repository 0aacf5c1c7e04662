// 码上监督: the citizen's report form. Asks for an SMS verification code, submits the report as JSON and
// shows the case number and the status link; every refusal is told on its own field (aria-invalid,
// the field's error slot, focus) and summed up in the alert region. Anonymous reporting hides the
// contact fields (no name, no phone, no code).

const form = document.getElementById("report");
const centre = form.dataset.centre;
const alertBox = document.getElementById("alert");
const statusBox = document.getElementById("status");
const contact = document.getElementById("contact");
const anonymous = document.getElementById("anonymous");
const sendButton = document.getElementById("send-code");
const submitButton = document.getElementById("submit");
const FIELDS = ["category", "title", "description", "address", "name", "phone", "code"];
let verificationId = "";
let countdown = null;
let countingDown = false;

function say(text) {
  alertBox.textContent = "";
  statusBox.textContent = text;
}

function warn(text) {
  statusBox.textContent = "";
  alertBox.textContent = text;
}

function clearErrors() {
  for (const name of FIELDS) {
    const el = document.getElementById(name);
    el.removeAttribute("aria-invalid");
    document.getElementById(`${name}-error`).textContent = "";
  }
  alertBox.textContent = "";
}

function showErrors(errors) {
  const shown = [];
  for (const { field, message } of errors) {
    const el = document.getElementById(field);
    const slot = document.getElementById(`${field}-error`);
    if (!el || !slot) continue;
    el.setAttribute("aria-invalid", "true");
    slot.textContent = message;
    shown.push({ el, message });
  }
  if (shown.length) {
    warn(`有 ${shown.length} 项需要修改：${shown.map((s) => s.message).join(" ")}`);
    shown[0].el.focus();
  }
  return shown.length;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  return { response, data };
}

function problemText(data, fallback) {
  return (data && (data.detail || data.title)) || fallback;
}

function startCountdown(seconds) {
  clearInterval(countdown);
  let left = Math.max(1, Number(seconds) || 60);
  countingDown = true;
  sendButton.disabled = true;
  sendButton.textContent = `重新获取（${left} 秒）`;
  countdown = setInterval(() => {
    left -= 1;
    if (left <= 0) {
      clearInterval(countdown);
      countingDown = false;
      sendButton.disabled = anonymous.checked;
      sendButton.textContent = "重新获取验证码";
    } else {
      sendButton.textContent = `重新获取（${left} 秒）`;
    }
  }, 1000);
}

function localErrors(fields, anonymousReport) {
  const errors = [];
  if (!fields.category) errors.push({ field: "category", message: "请选择问题类别。" });
  if (!fields.title.trim()) errors.push({ field: "title", message: "请填写标题。" });
  if (!fields.description.trim()) errors.push({ field: "description", message: "请描述您反映的问题。" });
  if (!fields.address.trim()) errors.push({ field: "address", message: "请填写问题发生的地址。" });
  if (!anonymousReport) {
    if (!fields.name.trim()) errors.push({ field: "name", message: "请填写姓名（或选择匿名反映）。" });
    if (!/^1[3-9]\d{9}$/.test(fields.phone.replace(/[\s-]/g, ""))) {
      errors.push({ field: "phone", message: "请填写正确的 11 位手机号码。" });
    }
    if (!verificationId) errors.push({ field: "code", message: "请先点击“获取验证码”，再填写短信中的验证码。" });
    else if (!/^\d{6}$/.test(fields.code.trim())) errors.push({ field: "code", message: "请填写短信中的 6 位数字验证码。" });
  }
  return errors;
}

anonymous.addEventListener("change", () => {
  contact.hidden = anonymous.checked;
  for (const el of contact.querySelectorAll("input")) el.disabled = anonymous.checked;
  sendButton.disabled = anonymous.checked || countingDown;
});

sendButton.addEventListener("click", async () => {
  clearErrors();
  const phone = document.getElementById("phone").value;
  if (!/^1[3-9]\d{9}$/.test(phone.replace(/[\s-]/g, ""))) {
    showErrors([{ field: "phone", message: "请填写正确的 11 位手机号码。" }]);
    return;
  }
  sendButton.disabled = true;
  try {
    const { response, data } = await post(`/report/${centre}/code`, { phone });
    if (response.ok) {
      verificationId = data.verification_id;
      say(data.message || "验证码已发送，请查看手机短信");
      startCountdown(data.resend_after_s);
      document.getElementById("code").focus();
      return;
    }
    sendButton.disabled = false;
    if (response.status === 429) startCountdown(response.headers.get("Retry-After"));
    if (!(data.errors && showErrors(data.errors))) warn(problemText(data, "验证码发送失败，请稍后再试。"));
  } catch {
    sendButton.disabled = false;
    warn("网络连接失败，请检查网络后重试。");
  }
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const get = (name) => (form.elements[name] ? form.elements[name].value : "");
  const fields = Object.fromEntries(FIELDS.map((name) => [name, get(name)]));
  const anonymousReport = anonymous.checked;
  const problems = localErrors(fields, anonymousReport);
  if (problems.length) {
    showErrors(problems);
    return;
  }
  const body = {
    form_token: get("form_token"),
    category: fields.category,
    title: fields.title,
    description: fields.description,
    address: fields.address,
    anonymous: anonymousReport,
    ...(anonymousReport ? {} : { name: fields.name, phone: fields.phone, verification_id: verificationId, code: fields.code }),
  };
  submitButton.disabled = true;
  say("正在提交…");
  try {
    const { response, data } = await post(`/report/${centre}/cases`, body);
    if (response.ok) {
      form.hidden = true;
      statusBox.textContent = "";
      document.getElementById("case-no").textContent = data.case_no;
      const link = document.getElementById("status-link");
      link.href = data.status_url;
      link.textContent = data.status_url;
      document.getElementById("done-sms").hidden = Boolean(data.anonymous);
      const done = document.getElementById("done");
      done.hidden = false;
      document.getElementById("done-heading").focus();
      return;
    }
    statusBox.textContent = "";
    if (!(data.errors && showErrors(data.errors))) warn(problemText(data, "提交失败，请稍后再试。"));
  } catch {
    statusBox.textContent = "";
    warn("网络连接失败，请检查网络后重新提交（不会重复受理）。");
  } finally {
    submitButton.disabled = false;
  }
});
