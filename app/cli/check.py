"""``flask check``: are the database, the image store and the AI Service ready for traffic?"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask.cli import with_appcontext

from app.services.checks import run_checks


@contextmanager
def _quiet(logger_name: str, level: int) -> Iterator[None]:
    """Raise ``logger_name``'s level for the block: the PASS/FAIL lines are the report."""
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


@click.command(
    "check", short_help="Check the database, storage and AI Service; PASS/FAIL per line."
)
@click.option("--verbose", is_flag=True, help="Also show the log lines of the calls made.")
@with_appcontext
def check(verbose: bool) -> None:
    """Check the database (reachable, migrations at head), storage and the AI Service.

    Prints one PASS/FAIL line per check and exits 1 when any check fails, so deploy scripts can
    run it as a gate before sending traffic.
    """
    with _quiet("app", logging.DEBUG if verbose else logging.ERROR):
        results = run_checks()
    width = max(len(result.name) for result in results)
    for result in results:
        status = click.style("PASS", fg="green") if result.ok else click.style("FAIL", fg="red")
        click.echo(f"{status}  {result.name.ljust(width)}  {result.detail}")
    failed = [result.name for result in results if not result.ok]
    if failed:
        click.echo(f"\n{len(failed)} of {len(results)} checks failed: {', '.join(failed)}.")
        click.get_current_context().exit(1)
    click.echo(f"\nAll {len(results)} checks passed.")
