"""Helpers shared by the command groups: clean CLI failures for domain errors, quiet logs."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def quiet_logs(logger_name: str = "app", *, verbose: bool = False) -> Iterator[None]:
    """Silence ``logger_name`` below ERROR for the block (unless ``verbose``): the command's
    own lines are its report; the services' INFO lines (one per AI call) would bury them."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.DEBUG if verbose else logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(previous)
