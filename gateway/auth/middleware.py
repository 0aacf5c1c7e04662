"""The ASGI middleware that guards every `/api/v1/*` route except those handing out tokens (the token
endpoint, login and refresh).

In order: a path with characters no resource has is 404; a missing, invalid or expired bearer token
is 401 (with `WWW-Authenticate`); so is a token whose person's session was revoked (logout, reuse of a
refresh token, password reset), whose person or API client was disabled — one primary-key read per
request against the shared database (`live`, gateway/accounts/sessions.py), so revocation is at
once on every replica; the per-client rate limit is 429 (with `Retry-After`); the route ×
role table (gateway/authorization.py) is 404 for a path that is no route and 403 for a role the
route does not name; an adapter's case body is checked for its channel (gateway/auth/scoping.py).
Then it **replaces** any `X-Hub-Actor-*` header the client sent with the token's identity, so route
handlers see only who authenticated (role, id, department, system, the kind of principal and, for a
person, their centre and display name); the services behind see none of these headers, only the
internal credential the gateway mints from the identity (gateway/principals.py, gateway/upstream.py).

`required=False` (HUB_AUTH_REQUIRED=false: development and tests only; production refuses it) lets
requests without a token through untouched, trusting the actor headers they carry (the gateway mints
the internal credential from them); a request that
does bring a token is checked exactly as above. Outside bearer auth: /healthz, /readyz, /metrics,
/docs, /openapi.json, /open311/* (its own api_key) and /adapters/* (HMAC signatures).
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi.responses import JSONResponse
from opentelemetry import trace
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.auth.answers import problem_json, unauthenticated
from gateway.auth.clients import Identity
from gateway.auth.replay import read_body
from gateway.auth.scoping import wrong_channel
from gateway.auth.tokens import TokenError, TokenIssuer
from gateway.ratelimit import RateLimiter

if TYPE_CHECKING:  # gateway.authorization reads the roles from this package
    from gateway.accounts.sessions import LiveCheck
    from gateway.authorization import Permissions

API_PREFIX = "/api/v1/"
TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
LOGIN_PATH = "/api/v1/auth/login"
REFRESH_PATH = "/api/v1/auth/refresh"
OIDC_LOGIN_PATH = "/api/v1/auth/oidc/login"
OIDC_CALLBACK_PATH = "/api/v1/auth/oidc/callback"
SIGN_IN_METHODS_PATH = "/api/v1/auth/methods"
# The endpoints that hand out tokens: outside bearer auth.
PUBLIC_PATHS = frozenset(
    {TOKEN_PATH, LOGIN_PATH, REFRESH_PATH, OIDC_LOGIN_PATH, OIDC_CALLBACK_PATH, SIGN_IN_METHODS_PATH}
)
ACTOR_PREFIX = b"x-hub-actor-"


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = bytes(value).decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return ""  # some other scheme, or an empty bearer: invalid
    return None


def unsafe_path(path: str) -> bool:
    """A path no resource can have, and whose segments must never be forwarded to a service: control
    characters, `#`, `?` or `\\` (percent-decoded), or a `.`/`..` segment (which a URL library would
    resolve to another internal path)."""
    for segment in path.split("/"):
        if segment in (".", ".."):
            return True
        if any(ch in "#?\\" or unicodedata.category(ch) in ("Cc", "Cs", "Cn") for ch in segment):
            return True
    return False


def needs_bearer(path: str) -> bool:
    return (path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")) and path not in PUBLIC_PATHS


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        permissions: Permissions,
        issuer: TokenIssuer,
        limiter: RateLimiter,
        required: bool,
        live: LiveCheck | None = None,
    ) -> None:
        self.app = app
        self.permissions = permissions
        self.issuer = issuer
        self.limiter = limiter
        self.required = required
        self.live = live  # None only on test apps without a database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not needs_bearer(scope["path"]):
            await self.app(scope, receive, send)
            return
        if unsafe_path(scope["path"]):
            await problem_json(404, "未找到", "路径中含有不允许的字符", "not-found")(scope, receive, send)
            return
        token = _bearer(scope)
        if token is None and not self.required:
            await self.app(scope, receive, send)  # development/tests: actor headers are trusted
            return
        checked = await self._check(scope, token)
        if isinstance(checked, JSONResponse):
            await checked(scope, receive, send)
            return
        identity, own = checked
        if own == "adapter_channel" and identity.role == "adapter":
            body, receive = await read_body(receive)
            refusal = (
                problem_json(413, "请求体过大", "请求体不能超过 1 MiB", "payload-too-large")
                if body is None
                else wrong_channel(identity, body)
            )
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        _set_actor(scope, identity)
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, token: str | None) -> JSONResponse | tuple[Identity, str | None]:
        if token is None:
            return unauthenticated(
                "请先登录 (POST /api/v1/auth/login) 或用 POST /api/v1/auth/token 换取令牌，再以 Bearer 方式携带",
                invalid=False,
            )
        try:
            identity = self.issuer.verify(token)
        except TokenError as exc:
            return unauthenticated(str(exc), invalid=True)
        if self.live is not None:
            try:
                current = await self.live.current(identity)
            except (SQLAlchemyError, OSError):
                return problem_json(503, "服务暂不可用", "暂时无法核验令牌，请稍后重试", "unavailable")
            if current is None:
                return unauthenticated("令牌已撤销：会话已结束或账号已停用 (token revoked)", invalid=True)
            identity = current
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("hub.client_id", identity.client_id)
            span.set_attribute("hub.actor_role", identity.role)
        verdict = self.limiter.take(identity.client_id, identity.rate_limit_per_minute)
        if not verdict.allowed:
            return problem_json(
                429,
                "请求过于频繁",
                f"每分钟最多 {identity.rate_limit_per_minute} 次请求，请 {verdict.retry_after_s} 秒后重试",
                "rate-limited",
                {"Retry-After": str(verdict.retry_after_s)},
            )
        match = self.permissions.match(_route_path(scope), scope["method"])
        if match.template is None:
            # No route has this path: nothing under /api/v1 answers unless the route table names it.
            return problem_json(404, "未找到", "Not Found", "about:blank", instance=scope["path"])
        if match.route is None:
            return identity, None  # the path exists with other methods: the router answers 405
        decision = self.permissions.decide(scope["method"], match.template, identity.role)
        if not decision.allowed:
            return problem_json(
                403,
                "无权限",
                f"角色 {identity.role} 不能调用 {scope['method']} {match.template}",
                "route-forbidden",
                role=identity.role,
            )
        return identity, decision.own


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path


def _set_actor(scope: Scope, identity: Identity) -> None:
    headers = [(k, v) for k, v in scope.get("headers", ()) if not k.startswith(ACTOR_PREFIX)]
    headers.append((b"x-hub-actor-role", identity.role.encode()))
    headers.append((b"x-hub-actor-id", identity.client_id.encode()))
    if identity.department:
        headers.append((b"x-hub-actor-department", identity.department.encode()))
    if identity.system:
        headers.append((b"x-hub-actor-system", identity.system.encode()))
    headers.append((b"x-hub-actor-kind", identity.kind.encode()))
    if identity.centre:
        headers.append((b"x-hub-actor-centre", identity.centre.encode()))
    if identity.name:
        headers.append((b"x-hub-actor-name", quote(identity.name, safe="").encode()))
    scope["headers"] = headers
    scope.setdefault("state", {})["identity"] = identity
