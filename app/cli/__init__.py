"""The admin command line: ``flask <group> <command>``, one module per group.

Every command is a thin wrapper over the services the API uses: parse options, call one service
function, print a clear message. Failures exit non-zero with ``Error: <what to do>`` on stderr.

To add a group, write ``app/cli/<group>.py`` exposing a ``flask.cli.AppGroup`` (or a command) and
list it in :func:`register_cli`.
"""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask, explicit: frozenset[str] = frozenset()) -> None:
    """Add every command group to ``app.cli`` (imports are local: nothing loads before use), and
    take the URLs of a running ``make run`` (``app/cli/run_env.py``)."""
    from app.cli.cases import cases
    from app.cli.check import check
    from app.cli.demo import demo
    from app.cli.patients import patients
    from app.cli.run_env import apply_run_env
    from app.cli.stats import stats_group
    from app.cli.storage import storage
    from app.cli.tokens import tokens
    from app.cli.users import users

    apply_run_env(app, explicit)

    for command in (users, check, demo, cases, patients, storage, stats_group, tokens):
        app.cli.add_command(command)
