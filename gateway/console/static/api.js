// The hub's public API as the console calls it: the bearer token from the login form, kept in
// sessionStorage (this tab only, gone when it closes), sent on every call; problem+json errors become
// ApiError with the gateway's Chinese title and detail. A 401 ends the session (back to login).

const KEY = "hub.console.session";
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, title, detail, body) {
    super(detail ? `${title}：${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.body = body;
  }
}

function decodeClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = part + "=".repeat((4 - (part.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

export function currentSession() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    saved = null;
  }
  if (!saved || !saved.token || saved.expiresAt <= Date.now()) {
    if (saved) sessionStorage.removeItem(KEY);
    return null;
  }
  return saved;
}

export function onSessionEnd(listener) {
  listeners.add(listener);
}

export function logout(reason) {
  sessionStorage.removeItem(KEY);
  for (const listener of listeners) listener(reason);
}

async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const title = (body && body.title) || `请求失败（HTTP ${response.status}）`;
  let detail = (body && (body.detail || body.error_description)) || "";
  if (body && Array.isArray(body.errors) && body.errors.length) {
    const fields = body.errors.map((e) => `${e.field}：${e.message}`).join("；");
    detail = detail ? `${detail}（${fields}）` : fields;
  }
  return new ApiError(response.status, title, detail, body);
}

export async function login(clientId, clientSecret) {
  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    client_secret: clientSecret,
  });
  let response;
  try {
    // credentials "omit": the 401 of a wrong secret carries `WWW-Authenticate: Basic` (RFC 6749), which
    // would otherwise open the browser's own password dialog instead of our Chinese message.
    response = await fetch("/api/v1/auth/token", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: form,
    });
  } catch {
    throw new ApiError(0, "无法连接平台", "请检查网络或稍后重试");
  }
  if (!response.ok) throw await problemOf(response);
  const data = await response.json();
  const claims = decodeClaims(data.access_token);
  const session = {
    token: data.access_token,
    expiresAt: Date.now() + (data.expires_in || 900) * 1000,
    clientId: claims.sub || clientId,
    role: claims.role || "",
    department: claims.dept || null,
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

// GET/POST a path under /api/v1. `optional: true` turns a 404 into null (an endpoint not there yet).
export async function api(path, { method = "GET", body, params, optional = false } = {}) {
  const session = currentSession();
  if (!session) {
    logout("expired");
    throw new ApiError(401, "未登录", "请先登录");
  }
  const url = new URL(`/api/v1${path}`, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Authorization: `Bearer ${session.token}`, Accept: "application/json" };
  const init = { method, headers, credentials: "omit" }; // the bearer is the only credential
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, "无法连接平台", "请检查网络或稍后重试");
  }
  if (response.status === 401) {
    const problem = await problemOf(response);
    logout("expired");
    throw problem;
  }
  if (optional && (response.status === 404 || response.status === 405)) return null;
  if (!response.ok) throw await problemOf(response);
  if (response.status === 204) return null;
  return response.json();
}
