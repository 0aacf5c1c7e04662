"""Auth on the gateway app: the token issuer, the client authenticator, the rate limiters, the
case-channel lookup of adapter scoping, the middlewares (auth inside request ids) and OpenAPI security."""

from __future__ import annotations

from fastapi import FastAPI

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
    app.add_middleware(
        AuthMiddleware,
        permissions=permissions(),
        issuer=issuer,
        limiter=app.state.rate_limiter,
        required=settings.auth_required,
    )
    app.add_middleware(RequestIdMiddleware)  # added last: outermost, so every error carries the id
    declare_security(app)
