// Sign-in as a named person (username and password).

import { finishOidc, login, signInMethods } from "../api.js";
import { append, h } from "../dom.js";
import { flash, heading, homeOf, idleLimitMs, main, publicPage, route, say, takeEndReason, takeReturnTo } from "../shell.js";

function loginView() {
  const endReason = takeEndReason();
  const limit = Math.round(idleLimitMs() / 1000);
  const idle = `由于 ${limit < 60 ? `${limit} 秒` : `${Math.round(limit / 60)} 分钟`}未操作，已自动退出登录，请重新登录。`;
  const status = endReason === "expired" ? "登录已过期或令牌无效，请重新登录。" : endReason === "user" ? "已退出登录。" : endReason === "idle" ? idle : "";
  const error = h("p", { class: "form-error", id: "login-error", role: "alert" });
  const form = h(
    "form",
    { class: "card login", novalidate: true, "aria-describedby": "login-help" },
    h("p", { id: "login-help", class: "hint" }, "请输入管理员为您开通的用户名和密码（hub users create 生成）。"),
    h("label", { for: "username" }, "用户名"),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true, spellcheck: "false" }),
    h("label", { for: "password" }, "密码"),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    error,
    h("button", { type: "submit", class: "primary" }, "登录"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = form.elements.username.value.trim();
    const secret = form.elements.password.value;
    if (!id || !secret) {
      error.textContent = "请填写用户名和密码。";
      (id ? form.elements.password : form.elements.username).focus();
      return;
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const session = await login(id, secret);
      form.elements.password.value = "";
      flash("登录成功。");
      location.hash = takeReturnTo(session) || homeOf(session.role);
    } catch (err) {
      error.textContent = err.message;
      form.elements.password.focus();
    } finally {
      button.disabled = false;
    }
  });
  // 统一身份认证: shown when the hub has an identity provider; the provider's answer comes back to #/oidc.
  const other = h("p", { class: "sign-in-other", hidden: true }, h("a", { class: "button", href: "/api/v1/auth/oidc/login?to=console" }, "统一身份认证登录"));
  append(main, [heading("登录工作台"), form, other]);
  signInMethods().then((methods) => {
    other.hidden = !methods.oidc;
  });
  const failed = takeOidcFailure();
  if (failed) error.textContent = failed;
  if (status) say(status);
  form.elements.username.focus();
}

let oidcFailure = null;
function takeOidcFailure() {
  const text = oidcFailure;
  oidcFailure = null;
  return text;
}

// Back from the identity provider: the code is used once, then gone from the address bar and history.
async function oidcView(query) {
  history.replaceState(null, "", `${location.pathname}#/login`);
  const code = query.get("code");
  const state = query.get("state");
  try {
    if (!code || !state) throw new Error(`统一身份认证未完成：身份提供方未授权（${query.get("error") || "未返回授权码"}）。`);
    const session = await finishOidc(code, state);
    flash("登录成功。");
    location.hash = takeReturnTo(session) || homeOf(session.role);
  } catch (err) {
    oidcFailure = err.message;
    await route(); // the address already says #/login (replaced above): draw it, with the failure
  }
}

publicPage("login", loginView);
publicPage("oidc", oidcView);
