"""The pure parts of the benchmark: parse wrk's result line and /proc status, compute the
ratios, judge the targets, format the table and the CSV. No I/O besides ``write_csv``.

``bench/wrk.lua`` makes wrk print one line per run::

    BENCH_RESULT requests=N duration_us=N p50_us=N p90_us=N p99_us=N max_us=N
                 connect=N read=N write=N timeout=N status=N

which :func:`parse_wrk_output` reads (percentiles are wrk's own, from its latency histogram).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

RESULT_PREFIX = "BENCH_RESULT"
_RESULT_FIELDS = (
    "requests",
    "duration_us",
    "p50_us",
    "p90_us",
    "p99_us",
    "max_us",
    "connect",
    "read",
    "write",
    "timeout",
    "status",
)
_PAIR = re.compile(r"([a-z0-9_]+)=(-?\d+)")


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: counts, latency percentiles (microseconds) and errors by kind."""

    requests: int
    duration_us: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    connect: int = 0
    read: int = 0
    write: int = 0
    timeout: int = 0
    status: int = 0

    @property
    def rps(self) -> float:
        """Requests per second (completed requests over the run's wall time)."""
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def socket_errors(self) -> int:
        """Connect, read, write errors and timeouts."""
        return self.connect + self.read + self.write + self.timeout

    @property
    def errors(self) -> int:
        """Every failed request: socket errors plus responses with status >= 400."""
        return self.socket_errors + self.status

    @property
    def p50_ms(self) -> float:
        return self.p50_us / 1000

    @property
    def p99_ms(self) -> float:
        return self.p99_us / 1000


def parse_wrk_output(text: str) -> WrkResult:
    """Return the result in wrk's output (the ``BENCH_RESULT`` line of ``bench/wrk.lua``).

    Raises:
        ValueError: no result line, or one missing a field (wrk failed or another script ran).
    """
    for raw in reversed(text.splitlines()):
        line = raw.strip()
        if line.startswith(RESULT_PREFIX + " "):
            values = {key: int(value) for key, value in _PAIR.findall(line)}
            missing = [name for name in _RESULT_FIELDS if name not in values]
            if missing:
                raise ValueError(f"wrk result line lacks {', '.join(missing)}: {line!r}")
            return WrkResult(**{name: values[name] for name in _RESULT_FIELDS})
    tail = "\n".join(text.strip().splitlines()[-5:])
    raise ValueError(f"no {RESULT_PREFIX} line in wrk's output (did wrk fail?):\n{tail}")


def parse_proc_status(text: str) -> dict[str, int]:
    """Return the ``Vm*`` sizes of a ``/proc/<pid>/status`` text in KiB (e.g. VmRSS, VmHWM)."""
    sizes: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"(Vm\w+):\s+(\d+)\s+kB", line)
        if match:
            sizes[match.group(1)] = int(match.group(2))
    return sizes


def parse_smaps_rollup(text: str) -> dict[str, int]:
    """Return ``Pss`` and ``Private`` (Private_Clean + Private_Dirty) in KiB from a
    ``/proc/<pid>/smaps_rollup`` text.

    VmRSS counts every page a process maps, also those it shares with the gunicorn master and
    the other workers (preload_app); PSS divides each shared page among its sharers and
    ``Private`` is what only this process holds (what stopping it would free).
    """
    fields: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"(\w+):\s+(\d+)\s+kB", line)
        if match:
            fields[match.group(1)] = int(match.group(2))
    return {
        "Pss": fields.get("Pss", 0),
        "Private": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0),
    }


def parse_proc_stat_cpu(text: str) -> tuple[int, int, int, int]:
    """Return (utime, stime, cutime, cstime) in clock ticks from a ``/proc/<pid>/stat`` text.

    cutime/cstime count the children the process has reaped (gunicorn's restarted workers).
    """
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and parens
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return utime, stime, cutime, cstime


def parse_machine_cpu(text: str) -> tuple[int, int]:
    """Return (busy, total) clock ticks of all cores from ``/proc/stat``'s first line."""
    values = [int(v) for v in text.splitlines()[0].split()[1:]]
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    idle = values[3] + values[4]
    return total - idle, total


# --- cells, table and CSV ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One measured combination: what was called, through what, how hard, with which AI delay."""

    name: str  # e.g. "POST /api/ai/next_question"
    via: str  # "gateway" or "direct" (the AI Service without the gateway)
    connections: int
    ai_delay_ms: int | None  # None: the endpoint does not call the AI Service
    duration_s: int
    result: WrkResult
    #: CPU seconds the gateway (master and workers) and the AI Service used during the cell.
    gateway_cpu_s: float | None = None
    ai_cpu_s: float | None = None
    #: Share of both cores busy during the cell, whoever used them (0..1).
    machine_busy: float | None = None

    def cpu_ms_per_request(self, seconds: float | None) -> float | None:
        if seconds is None or not self.result.requests:
            return None
        return seconds * 1000 / self.result.requests

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.via, self.name, self.connections)


CSV_COLUMNS = (
    "via",
    "endpoint",
    "connections",
    "ai_delay_ms",
    "duration_s",
    "requests",
    "rps",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "errors",
    "non_2xx",
    "socket_errors",
    "gateway_cpu_ms_per_req",
    "ai_cpu_ms_per_req",
    "machine_busy_pct",
)


def _round(value: float | None, digits: int) -> float | str:
    return "" if value is None else round(value, digits)


def cell_row(cell: Cell) -> dict[str, object]:
    """The CSV row of a cell (times in milliseconds, rounded to 0.01)."""
    r = cell.result
    return {
        "via": cell.via,
        "endpoint": cell.name,
        "connections": cell.connections,
        "ai_delay_ms": "" if cell.ai_delay_ms is None else cell.ai_delay_ms,
        "duration_s": cell.duration_s,
        "requests": r.requests,
        "rps": round(r.rps, 1),
        "p50_ms": round(r.p50_us / 1000, 2),
        "p90_ms": round(r.p90_us / 1000, 2),
        "p99_ms": round(r.p99_us / 1000, 2),
        "max_ms": round(r.max_us / 1000, 2),
        "errors": r.errors,
        "non_2xx": r.status,
        "socket_errors": r.socket_errors,
        "gateway_cpu_ms_per_req": _round(cell.cpu_ms_per_request(cell.gateway_cpu_s), 2),
        "ai_cpu_ms_per_req": _round(cell.cpu_ms_per_request(cell.ai_cpu_s), 2),
        "machine_busy_pct": _round(
            None if cell.machine_busy is None else cell.machine_busy * 100, 1
        ),
    }


def _fmt(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def format_table(cells: Sequence[Cell]) -> str:
    """A fixed-width table of the cells, one line each, in the order given."""
    header = (
        f"{'via':<8} {'endpoint':<35} {'conn':>4} {'AI ms':>5} {'req/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'gw CPU ms/req':>13} {'busy %':>6}"
    )
    lines = [header, "-" * len(header)]
    for cell in cells:
        r = cell.result
        delay = "-" if cell.ai_delay_ms is None else str(cell.ai_delay_ms)
        lines.append(
            f"{cell.via:<8} {cell.name:<35} {cell.connections:>4} {delay:>5} "
            f"{r.rps:>9.1f} {r.p50_us / 1000:>8.2f} {r.p99_us / 1000:>8.2f} {r.errors:>6} "
            f"{_fmt(cell.cpu_ms_per_request(cell.gateway_cpu_s), 13, 2)} "
            f"{_fmt(None if cell.machine_busy is None else cell.machine_busy * 100, 6, 0)}"
        )
    return "\n".join(lines)


def write_csv(path: Path, rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> None:
    """Write ``rows`` (dicts keyed by ``columns``) as CSV with a header line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)


# --- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One target of issue #8 with the figure measured for it."""

    name: str
    limit: str
    measured: str
    met: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "n/a" if self.met is None else ("met" if self.met else "MISSED")


@dataclass
class Measurements:
    """Everything the targets are judged on, besides the wrk cells."""

    worker_rss_kib: list[int] = field(default_factory=list)  # VmRSS of each worker after the run
    worker_hwm_kib: list[int] = field(default_factory=list)  # VmHWM of each worker after the run
    upload_growth_kib: dict[str, int] = field(default_factory=dict)  # endpoint -> VmHWM growth


NEXT_QUESTION = "POST /api/ai/next_question"
DIRECT_NEXT = "POST /api/v1/questionnaire/next"
DIAGNOSIS = "POST /api/diagnosis"
DIRECT_QUALITY = "POST /api/v1/image_quality/validate"
DIRECT_PREDICT = "POST /api/v1/diagnosis/predict"
DIRECT_TRIAGE = "POST /api/v1/diagnosis/triage"
USERS_ME = "GET /api/users/me"
HEALTHY = "GET /healthy"

#: Issue #8's limits.
MAX_ADDED_P50_MS = 2.0
MIN_RPS_RATIO = 0.9
DIAGNOSIS_P50_FACTOR = 2.3
MAX_WORKER_RSS_MB = 120
MAX_UPLOAD_GROWTH_MB = 30


def _find(cells: Iterable[Cell], via: str, name: str, connections: int) -> Cell | None:
    for cell in cells:
        if cell.key == (via, name, connections):
            return cell
    return None


def ratios(cells: Sequence[Cell], high: int = 32) -> dict[str, float]:
    """The same-run comparisons: the gateway vs the AI Service direct, users/me vs healthy.

    Keys (present when both cells were measured): ``next_added_p50_ms`` (gateway p50 minus
    direct p50 at 1 connection), ``next_rps_ratio`` (gateway over direct req/s at ``high``
    connections), ``me_added_p50_ms`` and ``me_rps_ratio`` (users/me against healthy),
    ``diagnosis_ai_path_p50_ms`` (the AI's own critical path of a diagnosis, called directly:
    the slower of quality and prediction, plus triage) and ``diagnosis_added_p50_ms`` (the
    gateway's diagnosis p50 above it).
    """
    out: dict[str, float] = {}
    pairs = (
        ("next", ("gateway", NEXT_QUESTION), ("direct", DIRECT_NEXT)),
        ("me", ("gateway", USERS_ME), ("gateway", HEALTHY)),
    )
    for label, (via_a, name_a), (via_b, name_b) in pairs:
        a1, b1 = _find(cells, via_a, name_a, 1), _find(cells, via_b, name_b, 1)
        if a1 and b1:
            out[f"{label}_added_p50_ms"] = (a1.result.p50_us - b1.result.p50_us) / 1000
        ah, bh = _find(cells, via_a, name_a, high), _find(cells, via_b, name_b, high)
        if ah and bh and bh.result.rps:
            out[f"{label}_rps_ratio"] = ah.result.rps / bh.result.rps
    diagnosis = _find(cells, "gateway", DIAGNOSIS, 1)
    quality = _find(cells, "direct", DIRECT_QUALITY, 1)
    predict = _find(cells, "direct", DIRECT_PREDICT, 1)
    triage = _find(cells, "direct", DIRECT_TRIAGE, 1)
    if diagnosis and quality and predict and triage:
        floor_us = max(quality.result.p50_us, predict.result.p50_us) + triage.result.p50_us
        out["diagnosis_ai_path_p50_ms"] = floor_us / 1000
        out["diagnosis_added_p50_ms"] = (diagnosis.result.p50_us - floor_us) / 1000
    return out


def evaluate_targets(
    cells: Sequence[Cell], measurements: Measurements, high: int = 32
) -> list[Target]:
    """Judge every target of issue #8 against this run's figures."""
    found = ratios(cells, high)
    targets: list[Target] = []

    added = found.get("next_added_p50_ms")
    targets.append(
        Target(
            "next_question: p50 added by the gateway, 1 connection, AI 50 ms",
            f"<= {MAX_ADDED_P50_MS:g} ms",
            "-" if added is None else f"{added:.2f} ms",
            None if added is None else added <= MAX_ADDED_P50_MS,
        )
    )
    ratio = found.get("next_rps_ratio")
    targets.append(
        Target(
            f"next_question: gateway/direct req/s, {high} connections, AI 50 ms",
            f">= {MIN_RPS_RATIO:g}x",
            "-" if ratio is None else f"{ratio:.3f}x",
            None if ratio is None else ratio >= MIN_RPS_RATIO,
        )
    )
    diag1 = _find(cells, "gateway", DIAGNOSIS, 1)
    if diag1 is None:
        targets.append(Target("diagnosis: p50, 1 connection", "-", "-", None))
    else:
        delay = diag1.ai_delay_ms or 200
        limit_ms = DIAGNOSIS_P50_FACTOR * delay
        p50 = diag1.result.p50_ms
        targets.append(
            Target(
                f"diagnosis: p50, 1 connection, AI {delay} ms",
                f"<= {limit_ms:g} ms ({DIAGNOSIS_P50_FACTOR:g} x {delay})",
                f"{p50:.1f} ms ({p50 / delay:.2f} x)",
                p50 <= limit_ms,
            )
        )
    soak = _find(cells, "gateway", DIAGNOSIS, high)
    if soak is None:
        targets.append(Target(f"diagnosis: failures, {high} connections", "0", "-", None))
    else:
        r = soak.result
        targets.append(
            Target(
                f"diagnosis: failed requests, {high} connections for {soak.duration_s} s, "
                f"AI {soak.ai_delay_ms} ms",
                "0",
                f"{r.errors} of {r.requests} (non-2xx {r.status}, socket {r.socket_errors})",
                r.errors == 0 and r.requests > 0,
            )
        )
    if measurements.worker_rss_kib:
        worst = max(measurements.worker_rss_kib) / 1024
        hwm = max(measurements.worker_hwm_kib or [0]) / 1024
        targets.append(
            Target(
                "worker RSS after the run (largest worker)",
                f"<= {MAX_WORKER_RSS_MB} MB",
                f"{worst:.1f} MB (peak VmHWM {hwm:.1f} MB)",
                worst <= MAX_WORKER_RSS_MB,
            )
        )
    else:
        targets.append(Target("worker RSS after the run", f"<= {MAX_WORKER_RSS_MB} MB", "-", None))
    if measurements.upload_growth_kib:
        for endpoint, growth in measurements.upload_growth_kib.items():
            mb = growth / 1024
            targets.append(
                Target(
                    f"peak RSS growth, one 10 MB upload to {endpoint}",
                    f"<= {MAX_UPLOAD_GROWTH_MB} MB",
                    f"{mb:.1f} MB",
                    mb <= MAX_UPLOAD_GROWTH_MB,
                )
            )
    else:
        targets.append(
            Target("peak RSS growth, one 10 MB upload", f"<= {MAX_UPLOAD_GROWTH_MB} MB", "-", None)
        )
    return targets


def format_targets(targets: Sequence[Target]) -> str:
    """A fixed-width table of the targets with their measured figures and verdicts."""
    width = max(len(t.name) for t in targets)
    lines = [f"{'target':<{width}}  {'limit':<22} {'measured':<40} verdict"]
    lines.append("-" * len(lines[0]))
    for t in targets:
        lines.append(f"{t.name:<{width}}  {t.limit:<22} {t.measured:<40} {t.verdict}")
    return "\n".join(lines)


TARGET_COLUMNS = ("target", "limit", "measured", "verdict")


def target_row(target: Target) -> dict[str, object]:
    return {
        "target": target.name,
        "limit": target.limit,
        "measured": target.measured,
        "verdict": target.verdict,
    }
