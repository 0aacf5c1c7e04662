"""Authentication of the public API, one job per module:

- clients.py — the client store (table `clients`), secrets hashed with scrypt, credential checks;
- tokens.py — bearer tokens (JWT) issued for client credentials and verified on each request;
- middleware.py — the ASGI middleware that checks tokens (and, through gateway/accounts/sessions.py
  `LiveCheck`, that the session is live and the person or client enabled), rate limits and the route ×
  role table (gateway/authorization.py, read from the route table) and sets the actor headers;
- scoping.py — adapter clients' row-level scoping (own channel, own cases);
- replay.py — reading a request body in the middleware and replaying it to the route;
- answers.py — the problem details auth answers with; openapi.py — security in the OpenAPI document;
- wiring.py — all of it installed on the gateway app.

`POST /api/v1/auth/token` itself is gateway/routes/auth.py; people's login, refresh, logout and
`me` are gateway/routes/accounts.py over gateway/accounts/. The names below are what the command
line and the tests use.
"""

from gateway.auth.answers import problem_json
from gateway.auth.clients import (
    ClientAuthenticator,
    Identity,
    NewClient,
    create_client,
    hash_secret,
    identity_of,
    set_disabled,
    validate_client_fields,
    verify_secret,
)
from gateway.auth.middleware import TOKEN_PATH, AuthMiddleware
from gateway.auth.tokens import AUDIENCE, ISSUER, TokenError, TokenIssuer

__all__ = [
    "AUDIENCE",
    "ISSUER",
    "TOKEN_PATH",
    "AuthMiddleware",
    "ClientAuthenticator",
    "Identity",
    "NewClient",
    "TokenError",
    "TokenIssuer",
    "create_client",
    "hash_secret",
    "identity_of",
    "problem_json",
    "set_disabled",
    "validate_client_fields",
    "verify_secret",
]
