"""Named accounts: people (not API clients) who sign in with a username and password.

- store.py — the account store (table `users`): create, disable, enable, reset, list;
- passwords.py — argon2id hashing and checking, off the event loop;
- sessions.py — sign-in sessions (table `user_sessions`) and `LiveCheck`, the per-request check that
  a session is live, its user enabled, and an API client enabled;
- login.py — login with lockout, refresh-token rotation with reuse detection, logout.

The HTTP side is gateway/routes/accounts.py; the command line hubcli/users.py; the decision record
docs/decisions/0010-named-accounts.md.
"""
