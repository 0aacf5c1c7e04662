"""`hub keys internal`: a new key pair for the internal credential (hub/credentials.py).

The signing key goes to the gateway only (HUB_INTERNAL_SIGNING_KEY); the verify key to every service
(HUB_INTERNAL_VERIFY_KEYS, a JSON list). To rotate: add the new verify key beside the old one on the
services, then give the gateway the new signing key, then remove the old verify key (credentials live
a minute, so the overlap can be short).
"""

from __future__ import annotations

import json

import typer

from hub.credentials import new_signing_key, public_key_of

app = typer.Typer(help="Keys the hub makes for itself.", no_args_is_help=True)


@app.command("internal")
def internal() -> None:
    """Print a new internal-credential signing key (gateway) and its verify key (services)."""
    signing = new_signing_key()
    verify = public_key_of(signing)
    typer.echo("# gateway only (a secret):")
    typer.echo(f"HUB_INTERNAL_SIGNING_KEY={signing}")
    typer.echo("# intake, referral, notification (public; while rotating, list the old key too):")
    typer.echo(f"HUB_INTERNAL_VERIFY_KEYS='{json.dumps([verify])}'")
