"""Sign-in through an existing identity provider (统一身份认证) with OpenID Connect: optional, off
unless `HUB_OIDC_ISSUER` is set.

The authorisation-code flow with PKCE (S256), `state` and `nonce`:
`GET /api/v1/auth/oidc/login` redirects to the provider's authorisation endpoint (found in its
discovery document) and leaves the flow's secrets in a short-lived cookie signed with the token key
(so any replica can finish the flow); `GET /api/v1/auth/oidc/callback` checks `state`, exchanges the
code (with the PKCE verifier and our client secret) and checks the ID token with PyJWT: signature
against the provider's JWKS, issuer, audience, expiry and nonce. The provider says who the person is;
the hub says what they may do: the claim `HUB_OIDC_USERNAME_CLAIM` must name an existing, enabled
account (`hub users create`), and the sign-in then opens a session exactly like a password login.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

STATE_AUDIENCE = "referral-hub-oidc-state"
STATE_TTL_S = 600
DISCOVERY_TTL_S = 3600


class OidcError(Exception):
    """Why an OIDC sign-in failed (safe to show; bilingual)."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    username_claim: str = "preferred_username"
    scopes: str = "openid profile"


@dataclass
class _Discovered:
    document: dict[str, Any]
    jwks: jwt.PyJWKSet
    fetched: float


@dataclass
class OidcSignIn:
    config: OidcConfig
    state_key: bytes
    transport: httpx.AsyncBaseTransport | None = None  # tests may route to an in-memory provider
    _discovered: _Discovered | None = field(default=None, init=False)

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, timeout=10)

    async def _provider(self, *, refresh: bool = False) -> _Discovered:
        found = self._discovered
        if found is None or refresh or time.monotonic() - found.fetched > DISCOVERY_TTL_S:
            try:
                url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
                async with self._http() as http:
                    document = (await http.get(url)).raise_for_status().json()
                    keys = (await http.get(document["jwks_uri"])).raise_for_status().json()
                found = _Discovered(document, jwt.PyJWKSet.from_dict(keys), time.monotonic())
            except (httpx.HTTPError, KeyError, ValueError, jwt.PyJWTError) as exc:
                raise OidcError(
                    f"无法读取身份提供方的配置 (provider discovery failed: {type(exc).__name__})"
                ) from None
            if found.document.get("issuer") != self.config.issuer:
                raise OidcError("身份提供方的 issuer 与配置不符 (the provider's issuer does not match)")
            self._discovered = found
        return found

    async def start(self, *, to: str | None = None) -> tuple[str, str]:
        """(where to send the browser, the signed flow cookie). `to="console"`: the provider's answer is
        handed to the console, which finishes the flow itself (see `returns_to`)."""
        provider = await self._provider()
        state, nonce, verifier = (secrets.token_urlsafe(24) for _ in range(3))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.client_id,
                "redirect_uri": self.config.redirect_uri,
                "scope": self.config.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        now = int(time.time())
        cookie = jwt.encode(
            {
                "aud": STATE_AUDIENCE,
                "iat": now,
                "exp": now + STATE_TTL_S,
                "st": state,
                "n": nonce,
                "v": verifier,
                **({"to": to} if to else {}),
            },
            self.state_key,
            algorithm="HS256",
        )
        return f"{provider.document['authorization_endpoint']}?{query}", cookie

    def returns_to(self, cookie: str | None) -> str | None:
        """Where a started flow asked to come back to ("console"), or None (the API's JSON answer)."""
        try:
            flow = jwt.decode(cookie or "", self.state_key, algorithms=["HS256"], audience=STATE_AUDIENCE)
        except jwt.PyJWTError:
            return None
        to = flow.get("to")
        return to if isinstance(to, str) else None

    async def finish(self, code: str, state: str, cookie: str | None) -> str:
        """The username the provider vouches for (not yet checked against the accounts)."""
        try:
            flow = jwt.decode(cookie or "", self.state_key, algorithms=["HS256"], audience=STATE_AUDIENCE)
        except jwt.PyJWTError:
            raise OidcError("登录流程已失效，请重新发起 (sign-in flow missing or expired)") from None
        if not secrets.compare_digest(str(flow.get("st", "")), state):
            raise OidcError("state 不匹配 (state mismatch)")
        provider = await self._provider()
        try:
            async with self._http() as http:
                answer = await http.post(
                    provider.document["token_endpoint"],
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": self.config.redirect_uri,
                        "code_verifier": flow["v"],
                    },
                    auth=(self.config.client_id, self.config.client_secret),
                )
        except httpx.HTTPError:
            raise OidcError("无法连接身份提供方 (provider unreachable)") from None
        if answer.status_code != 200:
            raise OidcError(f"授权码兑换失败 (code exchange refused: HTTP {answer.status_code})")
        id_token = answer.json().get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("身份提供方未返回 ID 令牌 (no id_token)")
        claims = await self._verify_id_token(id_token, provider)
        if not secrets.compare_digest(str(claims.get("nonce", "")), str(flow["n"])):
            raise OidcError("nonce 不匹配 (nonce mismatch)")
        username = claims.get(self.config.username_claim)
        if not isinstance(username, str) or not username:
            raise OidcError(f"ID 令牌缺少 {self.config.username_claim} (claim missing)")
        return username

    async def _verify_id_token(self, id_token: str, provider: _Discovered) -> dict[str, Any]:
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            if not isinstance(kid, str):
                key = provider.jwks.keys[0]  # a provider with one key may leave `kid` out
            else:
                try:
                    key = provider.jwks[kid]
                except KeyError:
                    provider = await self._provider(refresh=True)  # the provider rotated its keys
                    key = provider.jwks[kid]
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256", "ES256", "EdDSA"],
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=30,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except (jwt.PyJWTError, KeyError, IndexError):
            raise OidcError("ID 令牌无效 (invalid id_token)") from None
        return claims
