"""Auth on the gateway app: the token issuer, the client authenticator, named accounts (login,
refresh, logout and the per-request live check), the rate limiters, the case-channel lookup of adapter
scoping, the middlewares (auth inside request ids) and OpenAPI security."""

from __future__ import annotations

import hmac
from hashlib import sha256

from fastapi import FastAPI

from gateway.accounts.login import Accounts, Policy
from gateway.accounts.oidc import OidcConfig, OidcSignIn
from gateway.accounts.sessions import LiveCheck
from gateway.auth.clients import ClientAuthenticator
from gateway.auth.middleware import AuthMiddleware
from gateway.auth.openapi import declare_security
from gateway.auth.scoping import CaseChannels
from gateway.auth.tokens import TokenIssuer
from gateway.authorization import permissions
from gateway.ratelimit import RateLimiter
from gateway.requestid import RequestIdMiddleware
from gateway.settings import GatewaySettings


def install(app: FastAPI, settings: GatewaySettings) -> None:
    """Bearer auth, role table, rate limits and request ids on the gateway; security in its OpenAPI."""
    issuer = TokenIssuer(settings.token_secret)
    app.state.token_issuer = issuer
    app.state.auth_required = settings.auth_required  # gateway/principals.py: trust actor headers?
    app.state.client_authenticator = ClientAuthenticator(app.state.runtime.db)
    app.state.rate_limiter = RateLimiter()
    app.state.token_limiter = RateLimiter()
    app.state.case_channels = CaseChannels(app.state.upstream)
    db = app.state.runtime.db
    app.state.accounts = Accounts(
        db,
        issuer,
        Policy(
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
            max_failures=settings.login_max_failures,
            lockout_minutes=settings.login_lockout_minutes,
            rate_limit_per_minute=settings.user_rate_limit_per_minute,
        ),
        audit_key=settings.hash_key,
    )
    app.state.oidc = (
        OidcSignIn(
            OidcConfig(
                issuer=settings.oidc_issuer,
                client_id=settings.oidc_client_id,
                client_secret=settings.oidc_client_secret,
                redirect_uri=settings.oidc_redirect_uri or "",
                username_claim=settings.oidc_username_claim,
                scopes=settings.oidc_scopes,
            ),
            state_key=hmac.new(
                settings.token_secret.encode(), b"referral-hub oidc state v1", sha256
            ).digest(),
        )
        if settings.oidc_issuer
        else None
    )
    app.state.login_limiter = RateLimiter()
    app.state.login_attempts_per_minute = settings.login_attempts_per_minute
    app.add_middleware(
        AuthMiddleware,
        permissions=permissions(),
        issuer=issuer,
        limiter=app.state.rate_limiter,
        required=settings.auth_required,
        live=LiveCheck(db, user_rate_limit_per_minute=settings.user_rate_limit_per_minute),
    )
    app.add_middleware(RequestIdMiddleware)  # added last: outermost, so every error carries the id
    declare_security(app)
