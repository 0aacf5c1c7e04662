"""A loopback OpenID Connect provider (统一身份认证) for tests: discovery, JWKS, an authorisation
endpoint that signs in whoever the test names, and a token endpoint that checks the client, the
one-time code, the redirect URI and PKCE before answering an RS256 ID token. `tamper` lets a test make
it answer a wrong audience, nonce or signature."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse

CLIENT_ID = "referral-hub-test"
CLIENT_SECRET = "loopback-oidc-client-secret"


@dataclass
class Provider:
    issuer: str = ""
    subject: str = ""  # who "signs in" at the authorisation endpoint: the preferred_username
    tamper: str | None = None  # "audience" | "nonce" | "signature"
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    kid: str = "test-key-1"


def create_app(provider: Provider) -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {
            "issuer": provider.issuer,
            "authorization_endpoint": f"{provider.issuer}/authorize",
            "token_endpoint": f"{provider.issuer}/token",
            "jwks_uri": f"{provider.issuer}/jwks",
            "response_types_supported": ["code"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(provider.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": provider.kid, "use": "sig", "alg": "RS256"}]}

    @app.get("/authorize")
    async def authorize(request: Request) -> Any:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE required"}, 400)
        code = secrets.token_urlsafe(16)
        provider.codes[code] = {
            "nonce": q.get("nonce"),
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
            "username": provider.subject,
        }
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

    @app.post("/token")
    async def token(
        request: Request,
        grant_type: str = Form(),
        code: str = Form(),
        redirect_uri: str = Form(),
        code_verifier: str = Form(),
    ) -> Any:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or base64.b64decode(value).decode() != f"{CLIENT_ID}:{CLIENT_SECRET}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        issued = provider.codes.pop(code, None)  # one use only
        challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=")
        if (
            grant_type != "authorization_code"
            or issued is None
            or issued["redirect_uri"] != redirect_uri
            or challenge.decode() != issued["challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": provider.issuer,
            "aud": "someone-else" if provider.tamper == "audience" else CLIENT_ID,
            "sub": f"sub-{issued['username']}",
            "iat": now,
            "exp": now + 300,
            "nonce": "not-the-nonce" if provider.tamper == "nonce" else issued["nonce"],
            "preferred_username": issued["username"],
        }
        signer = rsa.generate_private_key(65537, 2048) if provider.tamper == "signature" else provider.key
        id_token = jwt.encode(claims, signer, algorithm="RS256", headers={"kid": provider.kid})
        return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": id_token}

    return app
