"""The side-by-side bench's results and the targets of issue #15, as pure functions.

A ``Run`` is one wrk load on one target ("anchor", the original FastAPI stack of
``../shared/anchor-bench``, or "gateway", ours). Ratios compare the two targets' requests per
second in the same cell of the same run: the machine's noise cancels out.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    """One wrk load: ``scenario`` on ``target`` at ``connections``, the fake AI at ``ai_ms``."""

    target: str  # "anchor" | "gateway"
    scenario: str  # healthy | health | users_me | next_question | diagnosis
    connections: int
    ai_ms: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    phase: str = "cell"  # cell | starvation | soak
    load1: float = 0.0  # the machine's 1-minute load average when the load ended (noise)

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


@dataclass(frozen=True)
class Target:
    """One target of the issue with what this run measured and its verdict."""

    name: str
    limit: str
    measured: str
    met: bool | None  # None: not measured

    @property
    def verdict(self) -> str:
        return "not measured" if self.met is None else ("met" if self.met else "MISSED")


def parse_result(line_text: str, **fields: object) -> Run:
    """Make a ``Run`` from wrk's ``RESULT,<requests>,<rps>,<p50>,<p99>,<non2xx>,<sockerr>``."""
    for line in line_text.splitlines():
        if line.startswith("RESULT,"):
            _, requests, rps, p50, p99, non_2xx, sock = line.split(",")
            return Run(
                requests=int(requests),
                rps=float(rps),
                p50_ms=float(p50),
                p99_ms=float(p99),
                non_2xx=int(non_2xx),
                socket_errors=int(sock),
                **fields,  # type: ignore[arg-type]
            )
    raise ValueError(f"no RESULT line in wrk's output: {line_text[-300:]!r}")


def find(  # noqa: PLR0917 - the five fields of a cell, in the order they are read
    runs: Iterable[Run], target: str, scenario: str, connections: int, ai_ms: int, phase: str
) -> Run | None:
    """The run matching every field, or ``None``."""
    for run in runs:
        key = (run.target, run.scenario, run.connections, run.ai_ms, run.phase)
        if key == (target, scenario, connections, ai_ms, phase):
            return run
    return None


def _ratio_target(runs: Sequence[Run], scenario: str, conns: int, ai_ms: int, at_least: float):
    name = f"{scenario}, AI {ai_ms} ms, {conns} conn: ours / original req/s"
    ours = find(runs, "gateway", scenario, conns, ai_ms, "cell")
    theirs = find(runs, "anchor", scenario, conns, ai_ms, "cell")
    if ours is None or theirs is None or theirs.rps == 0:
        return Target(name, f">= {at_least:.1f}x", "-", None)
    ratio = ours.rps / theirs.rps
    measured = f"{ratio:.2f}x ({ours.rps:,.1f} vs {theirs.rps:,.1f})"
    return Target(name, f">= {at_least:.1f}x", measured, ratio >= at_least and ours.errors == 0)


def evaluate(
    runs: Sequence[Run],
    *,
    worker_rss_mb: Sequence[float],
    final_rss_mb: Sequence[float] = (),
    starvation_ai_ms: int = 2000,
) -> list[Target]:
    """Every target of issue #15 with its verdict (``met`` None where the run lacks the cell).

    ``worker_rss_mb``: the workers' VmRSS (MB) after the 256 diagnoses; ``final_rss_mb``: again
    at the end of the whole run (the workers are not restarted by ``max_requests``, so this is
    what a worker holds after every cell and the soak).
    """
    targets = [
        _ratio_target(runs, scenario, 32, 0, at_least)
        for scenario, at_least in (
            ("next_question", 1.2),
            ("diagnosis", 1.2),
            ("users_me", 1.0),
            ("health", 1.0),
        )
    ]
    for conns in (32, 128):
        targets += [_ratio_target(runs, s, conns, 200, 1.2) for s in ("next_question", "diagnosis")]
    one = find(runs, "gateway", "diagnosis", 1, 200, "cell")
    targets.append(
        Target(
            "diagnosis, AI 200 ms, 1 conn: p50",
            "<= 430 ms (2.15 x 200)",
            "-" if one is None else f"{one.p50_ms:.1f} ms",
            None if one is None else one.p50_ms <= 430 and one.errors == 0,
        )
    )
    load = find(runs, "gateway", "diagnosis", 256, starvation_ai_ms, "starvation")
    for scenario, limit in (("healthy", 50.0), ("users_me", 150.0)):
        probe = find(runs, "gateway", scenario, 1, starvation_ai_ms, "starvation")
        targets.append(
            Target(
                f"256 diagnoses on a {starvation_ai_ms / 1000:g} s AI: {scenario} p99",
                f"<= {limit:.0f} ms",
                "-" if probe is None else f"{probe.p99_ms:.1f} ms (p50 {probe.p50_ms:.1f})",
                None if probe is None else probe.p99_ms <= limit,
            )
        )
    probes = [
        r for r in runs if r.target == "gateway" and r.phase == "starvation" and r is not load
    ]
    errors = None if load is None else load.errors + sum(p.errors for p in probes)
    targets.append(
        Target(
            f"256 diagnoses on a {starvation_ai_ms / 1000:g} s AI: failed requests",
            "0",
            "-"
            if load is None
            else f"{errors} of {load.requests + sum(p.requests for p in probes)}",
            None if load is None else errors == 0,
        )
    )
    rss = max(worker_rss_mb, default=None)
    targets.append(
        Target(
            "worker RSS after the 256 diagnoses",
            "<= 150 MB",
            "-" if rss is None else ", ".join(f"{m:.1f}" for m in worker_rss_mb) + " MB",
            None if rss is None else rss <= 150,
        )
    )
    if final_rss_mb:
        targets.append(
            Target(
                "worker RSS at the end of the run",
                "<= 150 MB",
                ", ".join(f"{m:.1f}" for m in final_rss_mb) + " MB",
                max(final_rss_mb) <= 150,
            )
        )
    soak = find(runs, "gateway", "diagnosis", 32, 200, "soak")
    targets.append(
        Target(
            "30 s soak, diagnosis, AI 200 ms, 32 conn: failed requests",
            "0",
            "-" if soak is None else f"{soak.errors} of {soak.requests}",
            None if soak is None else soak.errors == 0,
        )
    )
    return targets


def format_runs(runs: Sequence[Run]) -> str:
    """The runs as a fixed-width table, in the order measured."""
    head = (
        f"{'phase':<10} {'target':<8} {'scenario':<14} {'conn':>4} {'AI ms':>5} {'req/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>9} {'errors':>6} {'load':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in runs:
        lines.append(
            f"{r.phase:<10} {r.target:<8} {r.scenario:<14} {r.connections:>4} {r.ai_ms:>5} "
            f"{r.rps:>9,.1f} {r.p50_ms:>8.2f} {r.p99_ms:>9.2f} {r.errors:>6} {r.load1:>5.1f}"
        )
    return "\n".join(lines)


def format_targets(targets: Sequence[Target]) -> str:
    """The targets as a fixed-width table: name, limit, measured, verdict."""
    width = max(len(t.name) for t in targets)
    lines = [f"{'target (issue #15)':<{width}}  {'limit':<22} {'measured':<34} verdict"]
    lines.append("-" * len(lines[0]) + "-" * 8)
    for t in targets:
        lines.append(f"{t.name:<{width}}  {t.limit:<22} {t.measured:<34} {t.verdict}")
    return "\n".join(lines)


def write_csv(path: Path, rows: Sequence[object]) -> None:
    """Write dataclass ``rows`` (Runs or Targets) to ``path`` with a header."""
    dicts = [asdict(row) for row in rows]  # type: ignore[call-overload]
    if isinstance(rows[0], Target):
        for row, target in zip(dicts, rows, strict=True):
            row["verdict"] = target.verdict  # type: ignore[attr-defined]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(dicts[0]))
        writer.writeheader()
        writer.writerows(dicts)
