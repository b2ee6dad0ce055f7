"""Our gateway beside the original stack (``../shared/anchor-bench``), in one run (issue #15).

Run through ``bench/run`` (``make bench``); ``bench/README.md`` has the last table. Starts the
anchor's fake AI (Starlette, ``FAKE_AI_DELAY_MS``), one moto S3 server, the anchor (FastAPI,
uvicorn, 2 workers, its own fresh database) and our gateway (gunicorn with ``gunicorn.conf.py``
from ``.venv-prod``, ``APP_ENV=production``, its own fresh database), everything on 127.0.0.1 and
free ports. Every load is the anchor's own wrk script (``wrk/scenario.lua``) with the same bodies;
the two targets alternate cell by cell (the first to go alternates too), so the noise of this
shared 2-core machine falls on both. Then, on our gateway only: 256 diagnoses held on a 2 s AI
with ``/healthy`` and ``/api/users/me`` probed meanwhile, the workers' RSS, and the 30 s soak.

The anchor's venvs come from its ``setup.sh`` (``ANCHOR_BENCH_STATE``, default
``~/.cache/anchor-bench``); ``bench/run`` runs it when they are missing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sbs_targets as t

import bench as gw

ANCHOR = gw.ROOT.parent / "shared" / "anchor-bench"
STATE = Path(
    os.environ.get("ANCHOR_BENCH_STATE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "anchor-bench"
)
HOST = gw.HOST
PASSWORD = "Bench-password-" + secrets.token_hex(4)
ANAMNESIS = (
    '{"age":54,"sex":"female","location1.primary":"back","duration":">1 month",'
    '"changed_recently":true,"color":["brown","black"],"bleeding":false,"itch.scale_0_to_5":1}'
)
NEXT_QUESTION = '{"age":54,"sex":"female","location1.primary":"back","duration":">1 month"}'
SCENARIOS = {  # name -> (method, path, authenticated, JSON body, photo + anamnesis)
    "healthy": ("GET", "/healthy", False, "", False),
    "health": ("GET", "/health", False, "", False),
    "users_me": ("GET", "/api/users/me", True, "", False),
    "next_question": ("POST", "/api/ai/next_question", True, NEXT_QUESTION, False),
    "diagnosis": ("POST", "/api/diagnosis", True, "", True),
}


class Sides:
    """The processes and databases of one side-by-side run; ``close()`` removes all of them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.services: list[gw.Service] = []
        self.databases: list[str] = []
        self.ports = {name: gw.free_port() for name in ("ai", "s3", "anchor", "gateway")}
        self.url = {n: f"http://{HOST}:{self.ports[n]}" for n in ("anchor", "gateway")}
        self.tokens: dict[str, str] = {}
        self.ai: gw.Service | None = None
        self.gateway: gw.Service | None = None
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))},
            "AI_SERVICE_URL": f"http://{HOST}:{self.ports['ai']}",
            "S3_ENDPOINT_URL": f"http://{HOST}:{self.ports['s3']}",
            "S3_BUCKET": "derm-images",
            "S3_REGION": "us-east-1",
            "STORAGE_BACKEND": "s3",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PYTHONUNBUFFERED": "1",
        }

    def _start(self, name: str, argv: list[str], env: dict[str, str], url: str) -> gw.Service:
        service = gw.Service(name, argv, env, self.workdir / f"{name.split(maxsplit=1)[0]}.log")
        self.services.append(service)
        gw.wait_http(url, service)
        return service

    def _database(self, scheme: str) -> str:
        name = f"i15_sbs_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(gw.ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return gw.ADMIN_URL.rsplit("/", 1)[0].replace("postgresql", scheme, 1) + f"/{name}"

    def start_ai(self, delay_ms: int) -> None:
        if self.ai is not None:
            time.sleep(gw.DRAIN_S)  # the calls wrk left in flight finish before the AI stops
            self.ai.stop()
            self.services.remove(self.ai)
        argv = [str(STATE / ".venv-tools/bin/python"), str(ANCHOR / "fake_ai.py")]
        env = dict(self.env, FAKE_AI_DELAY_MS=str(delay_ms))
        self.ai = self._start(
            f"fake-ai ({delay_ms} ms)",
            [*argv, str(self.ports["ai"])],
            env,
            f"{self.env['AI_SERVICE_URL']}/health",
        )

    def start(self) -> None:
        moto = [str(gw.VENV_BIN / "moto_server"), "-H", HOST, "-p", str(self.ports["s3"])]
        self._start("moto", moto, self.env, f"{self.env['S3_ENDPOINT_URL']}/moto-api/")
        requests.put(f"{self.env['S3_ENDPOINT_URL']}/derm-images", timeout=10).raise_for_status()
        self.start_ai(0)
        anchor_db = self._database("postgresql+asyncpg")
        anchor_env = dict(self.env, DATABASE_URL=anchor_db)
        anchor_py = str(STATE / ".venv-anchor/bin/python")
        subprocess.run(
            [anchor_py, str(ANCHOR / "anchor_fastapi/app.py"), "initdb"],
            env=anchor_env,
            check=True,
            capture_output=True,
        )
        uvicorn = [str(STATE / ".venv-anchor/bin/uvicorn"), "app:app", "--app-dir"]
        uvicorn += [
            str(ANCHOR / "anchor_fastapi"),
            "--host",
            HOST,
            "--port",
            str(self.ports["anchor"]),
        ]
        uvicorn += ["--workers", "2", "--no-access-log", "--log-level", "warning"]
        self._start("anchor", uvicorn, anchor_env, f"{self.url['anchor']}/healthy")
        ours = dict(
            self.env,
            APP_ENV="production",
            DATABASE_URL=self._database("postgresql+psycopg"),
            SECRET_KEY=secrets.token_urlsafe(48),
            JWT_SECRET_KEY=secrets.token_urlsafe(48),
            GUNICORN_BIND=f"{HOST}:{self.ports['gateway']}",
            GUNICORN_ACCESS_LOG="",
            FLASK_APP="wsgi",
            REGISTRATION="open",  # the bench registers its user as the anchor's run.sh does
        )
        subprocess.run(
            [str(gw.VENV_BIN / "flask"), "db", "upgrade"],
            cwd=gw.ROOT,
            env=ours,
            check=True,
            capture_output=True,
        )
        argv = [str(gw.GATEWAY_BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"]
        self.gateway = self._start("gateway", argv, ours, f"{self.url['gateway']}/healthy")
        for target, base in self.url.items():
            self.tokens[target] = login(base)

    def close(self) -> None:
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception as exc:  # keep cleaning up the rest
                gw.log(f"could not stop {service.name}: {exc}")
        with psycopg.connect(gw.ADMIN_URL, autocommit=True) as conn:
            for name in self.databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def login(base: str) -> str:
    """Register one user through the target's own API, log in; return the access token."""
    email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    account = {"email": email, "password": PASSWORD, "full_name": "Bench User"}
    requests.post(f"{base}/api/auth/register", json=account, timeout=30).raise_for_status()
    answer = requests.post(
        f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def wrk(
    sides: Sides, target: str, scenario: str, conns: int, seconds: int, **fields
) -> subprocess.Popen:
    """Start the anchor's wrk script on ``target``; the caller reads its output."""
    method, path, auth, body, upload = SCENARIOS[scenario]
    env = dict(
        os.environ,
        BENCH_METHOD=method,
        BENCH_JSON=body,
        BENCH_TOKEN=sides.tokens[target] if auth else "",
        BENCH_UPLOAD=str(ANCHOR / "data/lesion.jpg") if upload else "",
        BENCH_FORM_ANAMNESIS=ANAMNESIS if upload else "",
    )
    threads = 1 if conns == 1 else 2
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s"]
    argv += ["-s", str(ANCHOR / "wrk/scenario.lua"), sides.url[target] + path]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def measure(  # noqa: PLR0917 - a cell's fields, in the table's order
    sides: Sides,
    target: str,
    scenario: str,
    conns: int,
    seconds: int,
    ai_ms: int,
    phase: str = "cell",
) -> t.Run:
    """One load, run to its end; its ``Run``."""
    out, err = wrk(sides, target, scenario, conns, seconds).communicate(timeout=seconds + 90)
    run = t.parse_result(
        out + err,
        target=target,
        scenario=scenario,
        connections=conns,
        ai_ms=ai_ms,
        phase=phase,
        load1=os.getloadavg()[0],
    )
    gw.log(
        f"{phase} {target} {scenario} {conns} conn AI {ai_ms} ms: {run.rps:,.1f} req/s, "
        f"p50 {run.p50_ms:.1f} ms, errors {run.errors}"
    )
    return run


def cells(
    sides: Sides,
    args: argparse.Namespace,
    ai_ms: int,
    plan: list[tuple[str, int]],
    runs: list[t.Run],
) -> None:
    """Each (scenario, connections) on both targets, alternating which goes first."""
    sides.start_ai(ai_ms)
    for scenario, conns in plan:
        order = ["anchor", "gateway"] if len(runs) % 4 == 0 else ["gateway", "anchor"]
        for target in order:
            if args.warmup:
                wrk(sides, target, scenario, conns, args.warmup).communicate(
                    timeout=args.warmup + 90
                )
            runs.append(measure(sides, target, scenario, conns, args.duration, ai_ms))


def starvation(
    sides: Sides, runs: list[t.Run], ai_ms: int = 2000, seconds: int = 25
) -> list[float]:
    """256 diagnoses on a slow AI, /healthy and /api/users/me probed meanwhile; worker RSS (MB)."""
    sides.start_ai(ai_ms)
    load = wrk(sides, "gateway", "diagnosis", 256, seconds)
    time.sleep(6)  # every connection has a diagnosis in flight
    probes = {s: wrk(sides, "gateway", s, 1, seconds - 10) for s in ("healthy", "users_me")}
    for scenario, probe in probes.items():
        out, err = probe.communicate(timeout=seconds + 90)
        runs.append(
            t.parse_result(
                out + err,
                target="gateway",
                scenario=scenario,
                connections=1,
                ai_ms=ai_ms,
                phase="starvation",
                load1=os.getloadavg()[0],
            )
        )
    rss = [gw.proc_status(pid)["VmRSS"] / 1024 for pid in gw.worker_pids(sides.gateway.pid)]
    out, err = load.communicate(timeout=seconds + 90)
    runs.append(
        t.parse_result(
            out + err,
            target="gateway",
            scenario="diagnosis",
            connections=256,
            ai_ms=ai_ms,
            phase="starvation",
            load1=os.getloadavg()[0],
        )
    )
    rss = [
        max(a, gw.proc_status(pid)["VmRSS"] / 1024)
        for a, pid in zip(rss, gw.worker_pids(sides.gateway.pid), strict=False)
    ] or rss
    for run in runs[-3:]:
        gw.log(
            f"starvation {run.scenario} {run.connections} conn: p50 {run.p50_ms:.1f} "
            f"p99 {run.p99_ms:.1f} ms, errors {run.errors}"
        )
    return rss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per cell (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per cell (2)")
    parser.add_argument("--soak", type=int, default=30, help="seconds of the soak (30)")
    parser.add_argument("--results", type=Path, default=gw.BENCH / "results")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, gw._on_signal)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix=f"dermadetect-sbs-{stamp}-"))
    gw.log(f"side by side with {ANCHOR}; logs in {workdir}; load average {os.getloadavg()}")
    sides = Sides(workdir)
    runs: list[t.Run] = []
    try:
        sides.start()
        every = ["healthy", "health", "users_me", "next_question", "diagnosis"]
        cells(sides, args, 0, [(s, 32) for s in every], runs)
        plan = [(s, c) for c in (32, 128) for s in ("next_question", "diagnosis")]
        cells(sides, args, 200, [*plan, ("diagnosis", 1)], runs)
        rss = starvation(sides, runs)
        sides.start_ai(200)
        runs.append(measure(sides, "gateway", "diagnosis", 32, args.soak, 200, phase="soak"))
        final_rss = [
            gw.proc_status(pid)["VmRSS"] / 1024 for pid in gw.worker_pids(sides.gateway.pid)
        ]
    finally:
        sides.close()
    targets = t.evaluate(runs, worker_rss_mb=rss, final_rss_mb=final_rss)
    print()
    print(t.format_runs(runs))
    print()
    print(t.format_targets(targets))
    print(f"\nload average at the end: {os.getloadavg()} (2 cores)")
    args.results.mkdir(parents=True, exist_ok=True)
    t.write_csv(args.results / f"{stamp}-side-by-side-runs.csv", runs)
    t.write_csv(args.results / f"{stamp}-side-by-side-targets.csv", targets)
    print(f"\nCSV: {args.results}/{stamp}-side-by-side-{{runs,targets}}.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
