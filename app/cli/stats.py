"""``flask stats concordance``: the statistics page's figures on the command line."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask.cli import AppGroup

from app.blueprints.stats.schemas import concordance_out
from app.cli.common import fails_cleanly
from app.services import stats
from app.services.clinical_terms import BODY_SITES, FITZPATRICK_TYPES

stats_group = AppGroup("stats", help="Statistics of the reviewed cases.")


def _pct(rate: stats.Rate) -> str:
    return "no cases" if rate.value is None else f"{rate.value:.0%} ({rate.hits}/{rate.total})"


def _print(figures: stats.Concordance) -> None:
    click.echo(f"Reviewed cases: {figures.reviewed}  (with histology: {figures.with_histology})")
    click.echo(f"Top-1 vs physician:  {_pct(figures.physician_top1)}")
    click.echo(f"Top-3 vs physician:  {_pct(figures.physician_top3)}")
    click.echo(f"Top-1 vs histology:  {_pct(figures.histology_top1)}")
    click.echo(f"Top-3 vs histology:  {_pct(figures.histology_top3)}")
    click.echo(f"Sensitivity (refer): {_pct(figures.sensitivity)}")
    click.echo(f"Specificity (refer): {_pct(figures.specificity)}")
    click.echo(f"Malignant ICD-10: {', '.join(sorted(stats.MALIGNANT_ICD10))}")
    click.echo("By skin type:       cases  top-1  top-3")
    for row in figures.by_fitzpatrick:
        click.echo(f"  {row.group:<16} {row.cases:>5}  {_pct(row.top1)}  {_pct(row.top3)}")
    click.echo("Calibration:        cases  mean predicted  confirmed")
    for b in figures.calibration:
        mean = "-" if b.mean_predicted is None else f"{b.mean_predicted:.0%}"
        label = f"{b.lower:.0%}-{b.upper:.0%}"
        click.echo(f"  {label:<16} {b.cases:>5}  {mean:>14}  {_pct(b.confirmed)}")


@stats_group.command("concordance", short_help="How often the AI agreed (every physician).")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON instead of a table.")
@click.option("--physician-id", type=int, default=None, help="Only this reviewer's cases.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--body-site", type=click.Choice(BODY_SITES), default=None)
@click.option("--fitzpatrick", "fitzpatrick_type", type=click.Choice(FITZPATRICK_TYPES))
@click.option("--model-version", default=None)
@fails_cleanly
def concordance(  # noqa: PLR0917 - one argument per filter
    as_json: bool,
    physician_id: int | None,
    since: datetime | None,
    until: datetime | None,
    body_site: str | None,
    fitzpatrick_type: str | None,
    model_version: str | None,
) -> None:
    """Print the concordance figures of the statistics page (same filters, same rules)."""
    filters = stats.Filters(
        physician_id=physician_id,
        since=since.date() if since else None,
        until=until.date() if until else None,
        body_site=body_site,
        fitzpatrick_type=fitzpatrick_type,
        model_version=model_version,
    )
    figures = stats.concordance(actor=None, filters=filters)
    if as_json:
        out = concordance_out(figures, sorted(stats.MALIGNANT_ICD10))
        click.echo(json.dumps(out.model_dump(mode="json"), indent=2))
    else:
        _print(figures)
