"""Helpers shared by the command groups: turning domain errors into clean CLI failures."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from app.errors import AppError, ValidationFailed

F = TypeVar("F", bound=Callable[..., Any])


def error_message(error: AppError) -> str:
    """Return one human line for ``error``; validation failures list each field's message."""
    if isinstance(error, ValidationFailed) and error.details:
        return " ".join(str(message) for message in error.details.values())
    return error.message


def fails_cleanly(command: F) -> F:
    """Let ``command`` raise ``AppError``: it becomes ``Error: <message>`` and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AppError as error:
            raise click.ClickException(error_message(error)) from error

    return wrapper  # type: ignore[return-value]
