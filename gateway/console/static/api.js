// The hub's public API as the console calls it: a person signs in with a username and password
// (POST /api/v1/auth/login); the access and refresh tokens are kept in sessionStorage (this tab only,
// gone when it closes), the access token sent on every call and renewed shortly before it expires;
// problem+json errors become ApiError with the gateway's Chinese title and detail. A 401 (session
// revoked, account disabled) ends the session (back to login).

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

// A person's session: the access token (short), the refresh token (rotating: each refresh uses it up),
// and who they are as the login answered. Refreshes never run twice at once: the gateway takes a
// refresh token presented a second time for a stolen copy and ends the whole session.
function save(data) {
  const session = {
    token: data.access_token,
    refreshToken: data.refresh_token,
    expiresAt: Date.now() + (data.expires_in || 600) * 1000,
    refreshExpiresAt: Date.now() + (data.refresh_expires_in || 0) * 1000,
    userId: data.user.id,
    username: data.user.username,
    name: data.user.name,
    role: data.user.role,
    centre: data.user.centre,
    department: data.user.department || null,
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function currentSession() {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    saved = null;
  }
  if (!saved || !saved.token || !saved.refreshToken || saved.refreshExpiresAt <= Date.now()) {
    if (saved) sessionStorage.removeItem(KEY);
    return null;
  }
  return saved;
}

export function onSessionEnd(listener) {
  listeners.add(listener);
}

export function logout(reason) {
  const session = currentSession();
  sessionStorage.removeItem(KEY);
  if ((reason === "user" || reason === "idle") && session) {
    // Revoke the session at the gateway too (its tokens are refused from now on); best effort.
    fetch("/api/v1/auth/logout", {
      method: "POST",
      credentials: "omit",
      headers: { Authorization: `Bearer ${session.token}` },
    }).catch(() => {});
  }
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

async function postJson(path, body) {
  try {
    return await fetch(path, {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "无法连接平台", "请检查网络或稍后重试");
  }
}

export async function login(username, password) {
  const response = await postJson("/api/v1/auth/login", { username, password });
  if (!response.ok) throw await problemOf(response);
  return save(await response.json());
}

// How a person may sign in here: {password, oidc} (the 统一身份认证 button only when configured).
export async function signInMethods() {
  try {
    const response = await fetch("/api/v1/auth/methods", { credentials: "omit", headers: { Accept: "application/json" } });
    return response.ok ? await response.json() : { password: true, oidc: false };
  } catch {
    return { password: true, oidc: false };
  }
}

// The identity provider sent the person back (#/oidc?code=&state=): the gateway finishes the flow with
// the flow's cookie (same origin) and answers the same tokens as a password login.
export async function finishOidc(code, state) {
  let response;
  try {
    const query = new URLSearchParams({ code, state });
    response = await fetch(`/api/v1/auth/oidc/callback?${query}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch {
    throw new ApiError(0, "无法连接平台", "请检查网络或稍后重试");
  }
  if (!response.ok) throw await problemOf(response);
  return save(await response.json());
}

let refreshing = null;

// A new pair for the session's refresh token; null when the session is over (revoked, expired).
function refreshSession(session) {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const response = await postJson("/api/v1/auth/refresh", { refresh_token: session.refreshToken });
        return response.ok ? save(await response.json()) : null;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

async function liveSession() {
  let session = currentSession();
  if (session && session.expiresAt - 30000 <= Date.now()) session = await refreshSession(session);
  return session;
}

// A 401 that says the access token has expired (a laptop asleep past its renewal, a clock off): the
// session may still be alive, so it is renewed with the refresh token and the call made once more;
// any other 401 (revoked, disabled, a token the gateway never issued) ends the session.
function saysExpired(problem) {
  const body = problem.body || {};
  return String(body.type || "").includes("invalid-token") && /过期|expired/i.test(String(body.detail || ""));
}

// GET/POST a path under /api/v1. `optional: true` turns a 404 into null (an endpoint not there yet);
// `headers` adds request headers (an Idempotency-Key, so a retried registration registers once).
export async function api(path, { method = "GET", body, params, optional = false, headers: extra = {}, renewed = false } = {}) {
  const session = await liveSession();
  if (!session) {
    logout("expired");
    throw new ApiError(401, "未登录", "请先登录");
  }
  const url = new URL(`/api/v1${path}`, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { ...extra, Authorization: `Bearer ${session.token}`, Accept: "application/json" };
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
    if (!renewed && saysExpired(problem)) {
      const now = currentSession();
      // Another call may have renewed it meanwhile: then its new token is used as it is.
      const fresh = now && now.token !== session.token ? now : now && (await refreshSession(now));
      if (fresh) return api(path, { method, body, params, optional, headers: extra, renewed: true });
    }
    logout("expired");
    throw problem;
  }
  if (optional && (response.status === 404 || response.status === 405)) return null;
  if (!response.ok) throw await problemOf(response);
  if (response.status === 204) return null;
  return response.json();
}
