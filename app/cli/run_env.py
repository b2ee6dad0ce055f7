"""The URLs ``make run`` serves on, for the commands run beside it.

``scripts/run-stack`` writes ``<instance>/run.env`` once the gateway answers (and removes it when
it stops): ``GATEWAY_URL=http://127.0.0.1:<PORT>`` and ``AI_SERVICE_URL=…``. The ``flask``
commands take those values, so ``flask demo seed`` and ``flask check`` in a second terminal use
the AI Service ``make run`` started on ``AI_PORT``; a variable set in the environment wins.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

#: File name in the instance folder.
RUN_ENV = "run.env"
#: The settings it may carry.
KEYS = ("GATEWAY_URL", "AI_SERVICE_URL")


def read_run_env(instance_path: str) -> dict[str, str]:
    """Return the ``KEY=value`` lines of ``<instance_path>/run.env`` (``{}`` when absent)."""
    try:
        text = (Path(instance_path) / RUN_ENV).read_text(encoding="utf-8")
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key in KEYS and value.strip():
            values[key] = value.strip().rstrip("/")
    return values


def apply_run_env(app: Flask, explicit: frozenset[str] = frozenset()) -> None:
    """Set ``GATEWAY_URL`` / ``AI_SERVICE_URL`` from ``run.env`` unless set in the environment
    or named in ``explicit`` (settings the app's own configuration class gives, e.g. a test
    app's fake AI Service: a ``make run`` in the same checkout must not redirect it)."""
    for key, value in read_run_env(app.instance_path).items():
        if not os.environ.get(key) and key not in explicit:
            app.config[key] = value
