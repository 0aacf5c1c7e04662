"""Authentication of the public API: clients, secrets, bearer tokens and the middleware that checks them.

- A **client** (table `clients`) has a role — centre, department (bound to one department code),
  adapter (bound to one external system) or ops — and a secret that is stored only as a scrypt hash.
- `POST /api/v1/auth/token` (gateway/routes/auth.py) trades client credentials for a **bearer
  token**: a compact JWT (HS256 with `HUB_TOKEN_SECRET`) that lives 15 minutes and carries the
  client id, role, department, system and rate limit, so checking a request needs no database.
  A disabled client gets no new token; one it already holds expires within those 15 minutes.
- `AuthMiddleware` guards every `/api/v1/*` route except the token endpoint: 401 problem (with
  `WWW-Authenticate`) for a missing, invalid or expired token; the per-client rate limit (429 with
  `Retry-After`); the route × role table of gateway/authorization.py (403); then it **replaces** any
  `X-Hub-Actor-*` header the client sent with the token's identity, so the route handlers and the
  services behind them see only who authenticated.
- `HUB_AUTH_REQUIRED=false` (development and tests only; production refuses it) lets requests
  without a token through untouched, trusting the actor headers they carry; a request that does
  bring a token is checked exactly as above.

Outside bearer auth: /healthz, /readyz, /metrics, /docs, /openapi.json, /open311/* (its own api_key)
and /adapters/* (HMAC signatures).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from opentelemetry import trace
from sqlalchemy import select, update
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.authorization import ROLES, SYSTEM_CHANNELS, SYSTEMS, decide
from gateway.ratelimit import RateLimiter
from gateway.tables import clients
from hub.config import Settings
from hub.db import Database
from hub.problems import PROBLEM_JSON, Problem

API_PREFIX = "/api/v1/"
TOKEN_PATH = "/api/v1/auth/token"  # noqa: S105 - a path, not a secret
TOKEN_TTL_S = 900
ISSUER = "referral-hub"
AUDIENCE = "referral-hub-api"
REALM = "referral-hub"
DEFAULT_RATE_PER_MINUTE = 600
ACTOR_PREFIX = b"x-hub-actor-"
DEPARTMENT_CODE = re.compile(r"^[\w.@:\-]{1,100}$")
MAX_INSPECTED_BODY = 1 << 20  # an adapter's case body is read to check its channel (1 MiB)


# ---------------------------------------------------------------- identities and client secrets


@dataclass(frozen=True)
class Identity:
    client_id: str
    role: str
    department: str | None = None
    system: str | None = None
    rate_limit_per_minute: int = DEFAULT_RATE_PER_MINUTE


@dataclass(frozen=True)
class NewClient:
    client_id: str
    secret: str
    role: str
    department: str | None
    system: str | None
    rate_limit_per_minute: int

    @property
    def api_key(self) -> str:
        """The Open311 `api_key` of an adapter client: its id and secret in one opaque string."""
        return f"{self.client_id}.{self.secret}"


# scrypt: memory-hard, in the standard library. n=2^14, r=8 is 16 MiB and about 50 ms a check.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def validate_client_fields(role: str, department: str | None, system: str | None) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "department":
        if not department or not DEPARTMENT_CODE.match(department):
            raise ValueError("a department client needs --department CODE (letters, digits, . @ : - _)")
    elif department:
        raise ValueError("--department is only for role department")
    if role == "adapter":
        if system not in SYSTEMS:
            raise ValueError(f"an adapter client needs --system, one of {', '.join(SYSTEMS)}")
    elif system:
        raise ValueError("--system is only for role adapter")


async def create_client(
    db: Database,
    role: str,
    *,
    department: str | None = None,
    system: str | None = None,
    rate_limit_per_minute: int = DEFAULT_RATE_PER_MINUTE,
) -> NewClient:
    """Register a client; the secret is returned here once and stored only as a hash."""
    validate_client_fields(role, department, system)
    if rate_limit_per_minute < 1:
        raise ValueError("the rate limit must be at least 1 request a minute")
    client_id = f"{role}-{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(32)
    secret_hash = await asyncio.to_thread(hash_secret, secret)
    async with db.transaction() as session:
        await session.execute(
            clients.insert().values(
                client_id=client_id,
                secret_hash=secret_hash,
                role=role,
                department=department,
                system=system,
                rate_limit_per_minute=rate_limit_per_minute,
                created_at=datetime.now(UTC),
                disabled=False,
            )
        )
    return NewClient(client_id, secret, role, department, system, rate_limit_per_minute)


async def set_disabled(db: Database, client_id: str, disabled: bool = True) -> bool:
    async with db.transaction() as session:
        result = await session.execute(
            update(clients).where(clients.c.client_id == client_id).values(disabled=disabled)
        )
    return bool(getattr(result, "rowcount", 0))


class ClientAuthenticator:
    """Checks client credentials against the table. A successful check is remembered for a minute
    (keyed by a hash of the presented secret), so a busy Open311 client does not pay scrypt on
    every request; at most two scrypt checks run at once, off the event loop."""

    def __init__(self, db: Database, *, cache_s: float = 60.0) -> None:
        self.db = db
        self.cache_s = cache_s
        self._cache: dict[tuple[str, bytes], tuple[Identity, float]] = {}
        self._kdf_slots = asyncio.Semaphore(2)

    async def authenticate(self, client_id: str, secret: str) -> Identity | None:
        key = (client_id, hashlib.sha256(secret.encode()).digest())
        cached = self._cache.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        async with self.db.sessions() as session:
            row = (await session.execute(select(clients).where(clients.c.client_id == client_id))).first()
        if row is None or row.disabled:
            return None
        async with self._kdf_slots:
            ok = await asyncio.to_thread(verify_secret, secret, row.secret_hash)
        if not ok:
            return None
        identity = Identity(row.client_id, row.role, row.department, row.system, row.rate_limit_per_minute)
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[key] = (identity, time.monotonic() + self.cache_s)
        return identity

    def forget(self, client_id: str | None = None) -> None:
        """Drop remembered checks (of one client, or all): the next request pays scrypt again."""
        for key in [k for k in self._cache if client_id in (None, k[0])]:
            del self._cache[key]

    async def authenticate_api_key(self, api_key: str) -> Identity | None:
        client_id, dot, secret = api_key.partition(".")
        if not dot or not client_id or not secret:
            return None
        return await self.authenticate(client_id, secret)


# ---------------------------------------------------------------- bearer tokens


class TokenError(Exception):
    """Why a bearer token was refused (safe to tell the client)."""


class TokenIssuer:
    def __init__(self, secret: str, *, ttl_s: int = TOKEN_TTL_S) -> None:
        # A key of its own, derived from HUB_TOKEN_SECRET: a secret shared with another use (or a
        # short one) never signs tokens directly, and the key has SHA-256's full 32 bytes.
        self._key = hmac.new(secret.encode(), b"referral-hub api tokens v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(self, identity: Identity) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": identity.client_id,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "role": identity.role,
            "rpm": identity.rate_limit_per_minute,
        }
        if identity.department:
            claims["dept"] = identity.department
        if identity.system:
            claims["sys"] = identity.system
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> Identity:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=5,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("令牌已过期 (token expired)") from None
        except jwt.InvalidTokenError:
            raise TokenError("令牌无效 (invalid token)") from None
        role, rpm = claims.get("role"), claims.get("rpm")
        if role not in ROLES or not isinstance(rpm, int) or rpm < 1:
            raise TokenError("令牌无效 (invalid token)")
        department, system = claims.get("dept"), claims.get("sys")
        if (role == "department") != isinstance(department, str) or (role == "adapter") != (
            system in SYSTEMS
        ):
            raise TokenError("令牌无效 (invalid token)")
        return Identity(str(claims["sub"]), role, department, system, rpm)


# ---------------------------------------------------------------- the middleware


def problem_json(
    status: int, title: str, detail: str, type_: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = Problem(status, title, detail, type_=type_, **extra).body()
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _www_authenticate(error: str | None = None, description: str | None = None) -> dict[str, str]:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return {"WWW-Authenticate": value}


def unauthenticated(detail: str, *, invalid: bool) -> JSONResponse:
    # RFC 6750: a request without credentials gets only the challenge; a bad token gets invalid_token.
    headers = _www_authenticate("invalid_token", "token missing, invalid or expired") if invalid else None
    return problem_json(
        401,
        "未认证",
        detail,
        "invalid-token" if invalid else "unauthenticated",
        headers or _www_authenticate(),
    )


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
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
    return (path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")) and path != TOKEN_PATH


OwnCheck = Callable[[Identity, Scope, dict[str, Any], bytes | None], Awaitable[JSONResponse | None]]


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        fastapi_app: FastAPI,
        issuer: TokenIssuer,
        limiter: RateLimiter,
        required: bool,
    ) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.issuer = issuer
        self.limiter = limiter
        self.required = required
        self._routes: RouteTable | None = None

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
        response = await self._check(scope, token)
        if isinstance(response, JSONResponse):
            await response(scope, receive, send)
            return
        identity, template, path_params = response
        body: bytes | None = None
        decision = decide(scope["method"], template, identity.role) if template else None
        if decision is not None and decision.own:
            if decision.own == "adapter_channel" and identity.role == "adapter":
                body, receive = await _read_body(receive)
                if body is None:
                    await problem_json(413, "请求体过大", "请求体不能超过 1 MiB", "payload-too-large")(
                        scope, receive, send
                    )
                    return
            refusal = await self._own(decision.own, identity, scope, path_params, body)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        _set_actor(scope, identity)
        await self.app(scope, receive, send)

    async def _check(
        self, scope: Scope, token: str | None
    ) -> JSONResponse | tuple[Identity, str | None, dict[str, Any]]:
        if token is None:
            return unauthenticated(
                "请先用 POST /api/v1/auth/token 换取令牌，再以 Bearer 方式携带", invalid=False
            )
        try:
            identity = self.issuer.verify(token)
        except TokenError as exc:
            return unauthenticated(str(exc), invalid=True)
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
        if self._routes is None:  # built on the first request, when every router is included
            self._routes = route_table(self.fastapi_app)
        template, path_params = _route_of(self._routes, scope)
        if template is None:
            return identity, None, {}  # no such route (or wrong method): the router answers 404/405
        decision = decide(scope["method"], template, identity.role)
        if not decision.allowed:
            return problem_json(
                403,
                "无权限",
                f"角色 {identity.role} 不能调用 {scope['method']} {template}",
                "route-forbidden",
                role=identity.role,
            )
        return identity, template, path_params

    async def _own(
        self, check: str, identity: Identity, scope: Scope, path_params: dict[str, Any], body: bytes | None
    ) -> JSONResponse | None:
        if identity.role != "adapter":
            return None
        channel = SYSTEM_CHANNELS.get(identity.system or "")
        if check == "adapter_channel":
            try:
                data = json.loads(body or b"")
            except ValueError:
                return None  # not JSON: the route's validation answers 422
            given = data.get("channel") if isinstance(data, dict) else None
            if given is not None and given != channel:
                return problem_json(
                    403,
                    "无权限",
                    f"适配器 {identity.system} 只能登记渠道为 {channel} 的事项",
                    "wrong-channel",
                )
            return None
        if check == "adapter_case":
            case_no = str(path_params.get("case_no", ""))
            upstream = getattr(self.fastapi_app.state, "upstream", None)
            if upstream is None or not case_no:
                return None
            try:
                answer = await upstream.request("intake", "GET", f"/internal/v1/cases/{case_no}")
            except Problem as exc:
                return problem_json(exc.status, exc.title, exc.detail, exc.type)
            if answer.status_code == 200 and answer.json().get("channel") != channel:
                # Another system's case is, for this adapter, a case that does not exist.
                return problem_json(404, "未找到该事项", f"没有编号为 {case_no} 的事项", "case-not-found")
            return None
        return problem_json(403, "无权限", "未知的数据范围检查", "route-forbidden")


RouteTable = list[tuple[re.Pattern[str], frozenset[str], str]]


def route_table(app: FastAPI) -> RouteTable:
    """(path regex, methods, template) of every route, flattened across included routers."""
    try:  # FastAPI ≥ 0.16x keeps included routers nested; this is how its OpenAPI walks them.
        from fastapi.routing import iter_route_contexts

        contexts: list[Any] = list(iter_route_contexts(app.router.routes))
    except ImportError:  # pragma: no cover - older FastAPI flattens routes on include
        contexts = list(app.router.routes)
    table: RouteTable = []
    for context in contexts:
        path, methods = getattr(context, "path", None), getattr(context, "methods", None)
        if not path or not methods:
            continue
        regex, _, _ = compile_path(path)
        table.append((regex, frozenset(methods) | ({"HEAD"} if "GET" in methods else set()), path))
    return table


def _route_of(table: RouteTable, scope: Scope) -> tuple[str | None, dict[str, Any]]:
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    for regex, methods, template in table:
        match = regex.match(path)
        if match and scope["method"] in methods:
            return template, match.groupdict()
    return None, {}


def _set_actor(scope: Scope, identity: Identity) -> None:
    headers = [(k, v) for k, v in scope.get("headers", ()) if not k.startswith(ACTOR_PREFIX)]
    headers.append((b"x-hub-actor-role", identity.role.encode()))
    headers.append((b"x-hub-actor-id", identity.client_id.encode()))
    if identity.department:
        headers.append((b"x-hub-actor-department", identity.department.encode()))
    if identity.system:
        headers.append((b"x-hub-actor-system", identity.system.encode()))
    scope["headers"] = headers
    scope.setdefault("state", {})["identity"] = identity


async def _read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole request body (at most MAX_INSPECTED_BODY) and give a receive that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_INSPECTED_BODY:
            return None, receive
        chunks.append(chunk)
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def identity_of(scope_or_state: Any) -> Identity | None:
    """The authenticated identity of a request (None when auth is off and no token was sent)."""
    state = getattr(scope_or_state, "state", None)
    found = getattr(state, "identity", None) if state is not None else None
    return found if isinstance(found, Identity) else None


# ---------------------------------------------------------------- wiring and OpenAPI


def install(app: FastAPI, settings: Settings) -> None:
    """Bearer auth, role table, rate limits and request ids on the gateway; security in its OpenAPI."""
    from gateway.requestid import RequestIdMiddleware

    issuer = TokenIssuer(settings.token_secret)
    runtime = app.state.runtime
    app.state.token_issuer = issuer
    app.state.client_authenticator = ClientAuthenticator(runtime.db)
    app.state.rate_limiter = RateLimiter()
    app.state.token_limiter = RateLimiter()
    app.add_middleware(
        AuthMiddleware,
        fastapi_app=app,
        issuer=issuer,
        limiter=app.state.rate_limiter,
        required=settings.auth_required,
    )
    app.add_middleware(RequestIdMiddleware)  # added last: outermost, so every error carries the id
    _declare_security(app)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _problem_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers:
        response["headers"] = headers
    return response


def _declare_security(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = build()
        components = doc.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        components["securitySchemes"] = {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "Token from POST /api/v1/auth/token (OAuth2 client credentials)",
            },
            "clientCredentials": {
                "type": "oauth2",
                "flows": {"clientCredentials": {"tokenUrl": TOKEN_PATH, "scopes": {}}},
            },
        }
        for path, operations in doc.get("paths", {}).items():
            for method, op in operations.items():
                if not isinstance(op, dict) or method not in ("get", "post", "put", "patch", "delete"):
                    continue
                responses = op.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = _problem_response("请求内容有误 (validation problem)")
                if needs_bearer(path):
                    op["security"] = [{"bearerAuth": []}, {"clientCredentials": []}]
                    responses.setdefault("401", _problem_response("Missing, invalid or expired token"))
                    responses.setdefault("403", _problem_response("The client's role may not call this"))
                    responses.setdefault(
                        "429",
                        _problem_response(
                            "Rate limit of the client exceeded",
                            {"Retry-After": {"schema": {"type": "integer"}}},
                        ),
                    )
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
