"""``flask tokens purge``: the scheduled clean-up of expired tokens and sessions.

Operators run it daily: the k8s CronJob ``deploy/k8s/purge-cronjob.yaml``, or with compose
``docker compose run --rm migrate flask tokens purge`` from the host's cron (README, Operations).
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.cli.common import fails_cleanly, quiet_logs
from app.services.sessions.purge import purge_expired

tokens = AppGroup("tokens", help="Maintain the token blocklist, remember-me tokens and sessions.")


@tokens.command("purge", short_help="Delete expired tokens and sessions (safe to run any time).")
@fails_cleanly
def purge() -> None:
    """Delete what can no longer log anybody in, and print how many of each.

    \b
    - blocklist entries of expired access and refresh tokens;
    - remember-me tokens past their expiry (REMEMBER_DAYS after their login);
    - portal sessions older than SESSION_LIFETIME_SECONDS (drafts are kept).

    Nobody is logged out by it. Exits 0 when done, whatever it found; run it daily.
    """
    with quiet_logs():
        purged = purge_expired()
    click.echo(
        f"Deleted {purged.blocklist_entries} expired blocklist entries, "
        f"{purged.remember_tokens} expired remember-me tokens and "
        f"{purged.portal_sessions} portal sessions past their lifetime."
    )
