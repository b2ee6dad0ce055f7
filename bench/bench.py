"""Benchmark the gateway as production runs it, against the AI Service called directly.

Run through ``bench/run`` (or ``make bench``); ``bench/README.md`` says what is measured and why.
Everything listens on 127.0.0.1 only, every load is bounded by wrk's ``-d``, and every process and
the database this script creates are removed on exit, Ctrl-C or failure.

Stages:

1. S3 through moto's server mode (its own process), a fresh PostgreSQL database built with
   ``flask db upgrade``, the reference AI service under gunicorn (gthread), the gateway under
   gunicorn with ``gunicorn.conf.py`` and ``APP_ENV=production``.
2. With the AI at 50 ms per call: ``/healthy``, ``/health``, ``/api/users/me``, the AI's
   ``questionnaire/next`` directly and ``/api/ai/next_question`` through the gateway, each at 1
   and 32 connections. With the AI at 200 ms: ``/api/diagnosis`` at 1 connection and a 32
   connection soak. Then VmRSS/VmHWM of every gateway worker.
3. The gateway again with ``WEB_CONCURRENCY=1``: the growth of the worker's peak RSS (VmHWM,
   reset through ``/proc/<pid>/clear_refs``) during one ~10 MB upload, to
   ``/api/cases/<id>/images`` and to ``/api/diagnosis``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wrkstats

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
#: The gateway's own venv: requirements.txt only, as the Dockerfile builds it (bench/run makes it).
GATEWAY_BIN = ROOT / ".venv-prod" / "bin"
SAMPLES = ROOT.parent / "shared" / "samples" / "images"
ADMIN_URL = os.environ.get(
    "BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
HOST = "127.0.0.1"
HIGH = 32  # connections of the loaded cells
DRAIN_S = 5  # seconds for the requests wrk leaves in flight to finish before a restart
PASSWORD = "Bench-horse-42-" + secrets.token_hex(4)
#: A questionnaire half answered: what a physician's client sends mid-way.
ANAMNESIS = {
    "age": 54,
    "sex": "female",
    "location1.primary": "back",
    "duration": ">1 month",
    "changed_recently": True,
    "color": ["brown", "black"],
    "bleeding": False,
}


class Stop(Exception):
    """SIGTERM/SIGHUP: unwind through every ``finally`` like Ctrl-C does."""


def _on_signal(signum: int, _frame: object) -> None:
    raise Stop(f"signal {signum}")


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


_taken: set[int] = set()


def free_port() -> int:
    """A port nothing listens on: from ``BENCH_PORTS`` (``first-last``, e.g. ``8160-8199``, for
    a shared machine whose developers each have a range) when set, else one the kernel picks.
    A port handed out once is not handed out again by this process."""
    spec = os.environ.get("BENCH_PORTS", "").strip()
    if not spec:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            return sock.getsockname()[1]
    first, _, last = spec.partition("-")
    for port in range(int(first), int(last or first) + 1):
        if port in _taken:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError(f"no free port in BENCH_PORTS={spec}")


# --- processes ----------------------------------------------------------------------------------


class Service:
    """A child process in its own session (so Ctrl-C reaches only this script), logged to a file.

    ``stop()`` sends SIGTERM to the process group it leads (gunicorn's master and its workers),
    then SIGKILL after ``grace`` seconds.
    """

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logfile: Path) -> None:
        self.name = name
        self.logfile = logfile
        self._log = logfile.open("ab")
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, grace: float = 15.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # Workers left behind by a master that died first.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()


def wait_http(url: str, service: Service, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers 2xx; fail early when the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise RuntimeError(f"{service.name} exited; see {service.logfile}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).ok:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{service.name} did not answer {url} within {timeout:g} s")


def worker_pids(master: int) -> list[int]:
    """The gunicorn workers (children of ``master``)."""
    path = Path(f"/proc/{master}/task/{master}/children")
    try:
        return [int(pid) for pid in path.read_text().split()]
    except OSError:
        return []


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (…) from ``/proc/<pid>/status``, with Pss and Private from smaps_rollup."""
    sizes = wrkstats.parse_proc_status(Path(f"/proc/{pid}/status").read_text())
    with contextlib.suppress(OSError):  # no smaps_rollup before Linux 4.14
        sizes.update(wrkstats.parse_smaps_rollup(Path(f"/proc/{pid}/smaps_rollup").read_text()))
    return sizes


def reset_peak_rss(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (``echo 5 > clear_refs``); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- stack --------------------------------------------------------------------------------------


class Stack:
    """Owns every process, temporary file and the database of one bench run."""

    def __init__(self, workdir: Path, storage: str) -> None:
        self.workdir = workdir
        self.storage = storage
        self.services: list[Service] = []
        self.database: str | None = None
        self.ai_port = free_port()
        self.gateway_port = free_port()
        self.ai: Service | None = None
        self.gateway: Service | None = None
        self.env = self._base_env()

    # environment of the gateway, as production would have it
    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        env.update(
            APP_ENV="production",
            SECRET_KEY=secrets.token_urlsafe(48),
            JWT_SECRET_KEY=secrets.token_urlsafe(48),
            AI_SERVICE_URL=f"http://{HOST}:{self.ai_port}",
            FLASK_APP="wsgi",
            REGISTRATION="open",  # the bench registers its own users (production: invite)
            # This part measures what the gateway adds to each AI call; with the question cache
            # (production's default, kept by side_by_side.py) next_question would be answered
            # from memory after the first call and compared with the AI called directly.
            AI_QUESTION_CACHE_SECONDS="0",
            PYTHONUNBUFFERED="1",
            PYTHONDONTWRITEBYTECODE="1",
        )
        if self.storage == "s3":
            env.update(STORAGE_BACKEND="s3", S3_BUCKET="bench-images", S3_REGION="us-east-1")
            env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
        else:
            env.update(STORAGE_BACKEND="local", LOCAL_STORAGE_PATH=str(self.workdir / "images"))
        return env

    def start_s3(self) -> None:
        port = free_port()
        moto = Service(
            "moto S3",
            [str(VENV_BIN / "moto_server"), "-H", HOST, "-p", str(port)],
            self.env,
            self.workdir / "moto.log",
        )
        self.services.append(moto)
        wait_http(f"http://{HOST}:{port}/moto-api/", moto)
        self.env["S3_ENDPOINT_URL"] = f"http://{HOST}:{port}"
        import boto3

        boto3.client(
            "s3",
            endpoint_url=self.env["S3_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        ).create_bucket(Bucket="bench-images")

    def create_database(self) -> None:
        name = f"dermadetect_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.database = name
        base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        self.env["DATABASE_URL"] = f"{base}/{name}"
        subprocess.run(
            [str(VENV_BIN / "flask"), "db", "upgrade"],
            cwd=ROOT,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def drop_database(self) -> None:
        if self.database is None:
            return
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (self.database,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}"')
        self.database = None

    def start_ai(self, delay_ms: int) -> None:
        """(Re)start the reference AI under gunicorn with ``delay_ms`` per POST."""
        if self.ai is not None:
            self.ai.stop()
            self.services.remove(self.ai)
        env = dict(self.env, REFERENCE_AI_DELAY_MS=str(delay_ms))
        argv = [
            str(VENV_BIN / "gunicorn"),
            "--config",
            str(BENCH / "reference_ai.conf.py"),
            "--bind",
            f"{HOST}:{self.ai_port}",
            "reference_ai.wsgi:app",
        ]
        self.ai = Service(f"reference AI ({delay_ms} ms)", argv, env, self.workdir / "ai.log")
        self.services.append(self.ai)
        wait_http(f"http://{HOST}:{self.ai_port}/api/v1/health", self.ai)

    def start_gateway(self, **overrides: str) -> None:
        """(Re)start the gateway: gunicorn with ``gunicorn.conf.py``, as in production."""
        if self.gateway is not None:
            self.gateway.stop()
            self.services.remove(self.gateway)
        env = dict(self.env, GUNICORN_BIND=f"{HOST}:{self.gateway_port}", **overrides)
        argv = [str(GATEWAY_BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"]
        self.gateway = Service("gateway", argv, env, self.workdir / "gateway.log")
        self.services.append(self.gateway)
        wait_http(f"{self.gateway_url}/healthy", self.gateway)
        # Every worker answers /healthy before the measurements start.
        expected = int(env.get("WEB_CONCURRENCY") or 0)
        deadline = time.monotonic() + 30
        while expected and len(worker_pids(self.gateway.pid)) < expected:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.gateway_port}"

    @property
    def ai_url(self) -> str:
        return f"http://{HOST}:{self.ai_port}"

    def close(self) -> None:
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception as exc:  # keep cleaning up the rest
                log(f"could not stop {service.name}: {exc}")
        self.services.clear()
        try:
            self.drop_database()
        except Exception as exc:
            log(f"could not drop database {self.database}: {exc}")


# --- requests bodies ----------------------------------------------------------------------------


def multipart(fields: dict[str, str], image: bytes, filename: str) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with text ``fields`` and the ``image`` file part."""
    boundary = "bench-" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"'
        f"\r\nContent-Type: image/jpeg\r\n\r\n".encode()
    )
    out.write(image + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def pick_sample(ai_url: str) -> Path:
    """The first sample photo the reference AI finds usable (so diagnoses complete)."""
    for path in sorted(SAMPLES.glob("*.jpg")):
        body = {
            "imageData": base64.b64encode(path.read_bytes()).decode(),
            "contentType": "image/jpeg",
        }
        answer = requests.post(f"{ai_url}/api/v1/image_quality/validate", json=body, timeout=30)
        if answer.ok and answer.json().get("isValid"):
            return path
    raise RuntimeError(f"no sample photo in {SAMPLES} passes the reference AI's quality check")


def make_large_jpeg(path: Path, low: int = 9_400_000, high: int = 10_400_000) -> int:
    """Write a 4000x3000 JPEG (no EXIF rotation) of ``low``..``high`` bytes; return its size.

    Noise over a smooth gradient, deterministic; the quality is searched to land in the range
    (below the gateway's MAX_IMAGE_BYTES default of 10 MiB = 10,485,760 bytes).
    """
    from PIL import Image

    width, height = 4000, 3000
    rng = random.Random(8)
    noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.blend(base, noise, 0.35)
    lo_q, hi_q = 40, 98
    best = None
    while lo_q <= hi_q:
        quality = (lo_q + hi_q) // 2
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality)
        size = buffer.tell()
        if size > high:
            hi_q = quality - 1
        else:
            best = buffer
            if size >= low:
                break
            lo_q = quality + 1
    if best is None:
        raise RuntimeError("could not make a JPEG below the size limit")
    path.write_bytes(best.getvalue())
    return best.tell()


# --- wrk ----------------------------------------------------------------------------------------


def run_wrk(
    url: str,
    *,
    connections: int,
    duration: int,
    headers: dict[str, str],
    body_file: Path | None = None,
    timeout_s: int = 10,
) -> wrkstats.WrkResult:
    threads = 1 if connections == 1 else 2
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(BENCH / "wrk.lua"),
    ]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    if body_file is not None:
        argv += ["--", str(body_file)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration + timeout_s + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return wrkstats.parse_wrk_output(done.stdout)


def group_cpu_seconds(service: Service | None) -> float:
    """CPU seconds used so far by a gunicorn master, its live workers and its reaped workers."""
    if service is None:
        return 0.0
    ticks = 0
    for pid in (service.pid, *worker_pids(service.pid)):
        with contextlib.suppress(OSError):
            utime, stime, cutime, cstime = wrkstats.parse_proc_stat_cpu(
                Path(f"/proc/{pid}/stat").read_text()
            )
            ticks += utime + stime + (cutime + cstime if pid == service.pid else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int]:
    return wrkstats.parse_machine_cpu(Path("/proc/stat").read_text())


def count_worker_boots(logfile: Path) -> int:
    return logfile.read_text(errors="replace").count("Booting worker with pid")


# --- the run ------------------------------------------------------------------------------------


def register(gateway: str) -> str:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    account = {"email": email, "password": PASSWORD, "full_name": "Dr. Bench"}
    requests.post(f"{gateway}/api/auth/register", json=account, timeout=30).raise_for_status()
    login = requests.post(
        f"{gateway}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=30
    )
    login.raise_for_status()
    return login.json()["access_token"]


def check(answer: requests.Response, what: str) -> dict[str, Any]:
    if not answer.ok:
        raise RuntimeError(f"{what} answered {answer.status_code}: {answer.text[:500]}")
    return answer.json()


def ai_path_bodies(ai: str, sample: Path, workdir: Path) -> list[tuple[str, str, Path]]:
    """(name, URL, body file) of the AI's own critical path of a diagnosis, called directly:
    quality and prediction (which run together), then triage, with the same photo and answers.
    """
    data = base64.b64encode(sample.read_bytes()).decode()
    image = {"imageData": data, "contentType": "image/jpeg"}
    predict = {"anamnesis": ANAMNESIS, "images": [image], "tta": False}
    answer = requests.post(f"{ai}/api/v1/diagnosis/predict", json=predict, timeout=30)
    diagnoses = check(answer, "predict")["diagnoses"]
    answer = requests.post(
        f"{ai}/api/v1/diagnosis/red_flags", json={"anamnesis": ANAMNESIS}, timeout=30
    )
    triage = {"anamnesis": ANAMNESIS, "diagnoses": diagnoses, "redFlags": check(answer, "flags")}
    out = []
    for name, path, payload in (
        (wrkstats.DIRECT_QUALITY, "/api/v1/image_quality/validate", image),
        (wrkstats.DIRECT_PREDICT, "/api/v1/diagnosis/predict", predict),
        (wrkstats.DIRECT_TRIAGE, "/api/v1/diagnosis/triage", triage),
    ):
        body = workdir / f"direct-{path.rsplit('/', 1)[1]}.json"
        body.write_text(json.dumps(payload))
        out.append((name, ai + path, body))
    return out


def measure(args: argparse.Namespace, stack: Stack) -> tuple[list[wrkstats.Cell], dict]:
    """Stage 2: the wrk cells and the workers' RSS after them."""
    cells: list[wrkstats.Cell] = []
    info: dict[str, Any] = {}

    def cell(
        name: str,
        via: str,
        url: str,
        *,
        connections: int,
        delay: int | None,
        duration: int,
        headers: dict[str, str],
        body: Path | None = None,
    ) -> None:
        gw0, ai0, (busy0, total0) = (
            group_cpu_seconds(stack.gateway),
            group_cpu_seconds(stack.ai),
            machine_cpu(),
        )
        result = run_wrk(
            url, connections=connections, duration=duration, headers=headers, body_file=body
        )
        busy1, total1 = machine_cpu()
        done = wrkstats.Cell(
            name,
            via,
            connections,
            delay,
            duration,
            result,
            gateway_cpu_s=group_cpu_seconds(stack.gateway) - gw0,
            ai_cpu_s=group_cpu_seconds(stack.ai) - ai0,
            machine_busy=(busy1 - busy0) / max(total1 - total0, 1),
        )
        cells.append(done)
        gw_ms = done.cpu_ms_per_request(done.gateway_cpu_s) or 0.0
        log(
            f"{via:<7} {name:<32} c={connections:<3} {result.rps:8.1f} req/s  "
            f"p50 {result.p50_ms:8.2f} ms  p99 {result.p99_ms:8.2f} ms  errors {result.errors}  "
            f"gateway CPU {gw_ms:.2f} ms/req  cores busy {done.machine_busy:.0%}"
        )

    def warm(url: str, headers: dict[str, str], body: Path | None = None) -> None:
        run_wrk(url, connections=HIGH, duration=args.warmup, headers=headers, body_file=body)

    gw, ai = stack.gateway_url, stack.ai_url
    token = register(gw)
    auth = {"Authorization": f"Bearer {token}"}
    json_headers = {"Content-Type": "application/json"}
    d = args.duration

    # Each endpoint answers 2xx before it is loaded (wrk counts only statuses >= 400).
    check(requests.get(f"{gw}/health", timeout=10), "GET /health")
    check(requests.get(f"{gw}/api/users/me", headers=auth, timeout=10), "GET /api/users/me")

    # --- the AI at 50 ms per call (started so by main)
    next_body = stack.workdir / "next_question.json"
    next_body.write_text(json.dumps(ANAMNESIS))
    direct_body = stack.workdir / "direct_next.json"
    direct_body.write_text(json.dumps({"anamnesis": ANAMNESIS}))
    check(
        requests.post(f"{gw}/api/ai/next_question", json=ANAMNESIS, headers=auth, timeout=10),
        "POST /api/ai/next_question",
    )
    boots_before = count_worker_boots(stack.gateway.logfile)
    for name, path, headers in (
        (wrkstats.HEALTHY, "/healthy", {}),
        ("GET /health", "/health", {}),
        (wrkstats.USERS_ME, "/api/users/me", auth),
    ):
        warm(gw + path, headers)
        for connections in (1, HIGH):
            cell(
                name,
                "gateway",
                gw + path,
                connections=connections,
                delay=None,
                duration=d,
                headers=headers,
            )
    direct_url = f"{ai}/api/v1/questionnaire/next"
    gateway_next = f"{gw}/api/ai/next_question"
    gateway_headers = {**json_headers, **auth}
    warm(direct_url, json_headers, direct_body)
    warm(gateway_next, gateway_headers, next_body)
    for connections in (1, HIGH):  # direct and gateway back to back, for each load
        cell(
            wrkstats.DIRECT_NEXT,
            "direct",
            direct_url,
            connections=connections,
            delay=50,
            duration=d,
            headers=json_headers,
            body=direct_body,
        )
        cell(
            wrkstats.NEXT_QUESTION,
            "gateway",
            gateway_next,
            connections=connections,
            delay=50,
            duration=d,
            headers=gateway_headers,
            body=next_body,
        )

    # --- the AI at 200 ms per call
    time.sleep(DRAIN_S)  # requests wrk left in flight finish before the AI restarts
    stack.start_ai(200)
    sample = pick_sample(ai)
    info["sample"] = sample.name
    body, content_type = multipart(
        {"anamnesis": json.dumps(ANAMNESIS)}, sample.read_bytes(), sample.name
    )
    diagnosis_body = stack.workdir / "diagnosis.multipart"
    diagnosis_body.write_bytes(body)
    diag_headers = {"Content-Type": content_type, **auth}
    diag_url = f"{gw}/api/diagnosis"
    check(requests.post(diag_url, data=body, headers=diag_headers, timeout=60), "diagnosis")
    for name, url, path_body in ai_path_bodies(ai, sample, stack.workdir):
        cell(
            name,
            "direct",
            url,
            connections=1,
            delay=200,
            duration=d,
            headers=json_headers,
            body=path_body,
        )
    warm(diag_url, diag_headers, diagnosis_body)
    for connections, duration in ((1, d), (HIGH, args.soak)):
        cell(
            wrkstats.DIAGNOSIS,
            "gateway",
            diag_url,
            connections=connections,
            delay=200,
            duration=duration,
            headers=diag_headers,
            body=diagnosis_body,
        )

    # --- the workers after the run
    info["workers"] = {pid: proc_status(pid) for pid in worker_pids(stack.gateway.pid)}
    info["worker_restarts"] = count_worker_boots(stack.gateway.logfile) - boots_before
    return cells, info


def measure_upload(stack: Stack) -> dict[str, Any]:
    """Stage 3: one worker; VmHWM growth during one ~10 MB upload to each endpoint."""
    time.sleep(DRAIN_S)
    stack.start_ai(0)
    stack.start_gateway(WEB_CONCURRENCY="1")
    (worker,) = worker_pids(stack.gateway.pid)
    gw = stack.gateway_url
    auth = {"Authorization": f"Bearer {register(gw)}"}
    case = check(
        requests.post(
            f"{gw}/api/cases",
            json={
                "patient_reference": "BENCH-1",
                "patient_age": 54,
                "patient_sex": "female",
                "body_site": "back",
                "chief_complaint": "Benchmark: a changing pigmented lesion.",
            },
            headers=auth,
            timeout=30,
        ),
        "POST /api/cases",
    )
    case_id = case["id"]
    large = stack.workdir / "large.jpg"
    size = make_large_jpeg(large)
    sample = sorted(SAMPLES.glob("*.jpg"))[0]

    def upload_image(path: Path) -> None:
        with path.open("rb") as file:
            check(
                requests.post(
                    f"{gw}/api/cases/{case_id}/images",
                    files={"image": (path.name, file, "image/jpeg")},
                    headers=auth,
                    timeout=120,
                ),
                f"POST /api/cases/<id>/images ({path.name})",
            )

    def diagnose(path: Path) -> None:
        with path.open("rb") as file:
            check(
                requests.post(
                    f"{gw}/api/diagnosis",
                    files={"image": (path.name, file, "image/jpeg")},
                    data={
                        "anamnesis": json.dumps(ANAMNESIS),
                        "case_id": case_id,
                        "accept_low_quality": "true",
                    },
                    headers=auth,
                    timeout=120,
                ),
                f"POST /api/diagnosis ({path.name})",
            )

    # Warm up with a small photo: imports, clients and pools exist before anything is measured.
    upload_image(sample)
    diagnose(sample)
    resettable = reset_peak_rss(worker)
    growth: dict[str, int] = {}
    before_after: dict[str, tuple[int, int]] = {}
    for endpoint, action in (
        ("POST /api/cases/<id>/images", upload_image),
        ("POST /api/diagnosis", diagnose),
    ):
        reset_peak_rss(worker)
        before = proc_status(worker)
        action(large)
        after = proc_status(worker)
        start = before["VmRSS"] if resettable else before["VmHWM"]
        growth[endpoint] = after["VmHWM"] - start
        before_after[endpoint] = (start, after["VmHWM"])
    return {
        "image_bytes": size,
        "clear_refs": resettable,
        "growth_kib": growth,
        "before_after_kib": before_after,
        "worker_status": proc_status(worker),
    }


def hold(stack: Stack, delay_ms: int) -> int:
    """``--hold``: serve the stack until Ctrl-C (or SIGTERM)."""
    stack.start_ai(delay_ms)
    stack.start_gateway()
    token = register(stack.gateway_url)
    print(f"gateway  {stack.gateway_url}  (master pid {stack.gateway.pid})", flush=True)
    print(f"AI       {stack.ai_url}  ({delay_ms} ms per POST)", flush=True)
    print(f"TOKEN={token}", flush=True)
    print(f"logs     {stack.workdir}", flush=True)
    while True:
        time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per cell (10)")
    parser.add_argument("--soak", type=int, default=30, help="seconds of the 32-conn soak (30)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per endpoint")
    parser.add_argument(
        "--storage", choices=("s3", "local"), default="s3", help="s3 (moto server) or local"
    )
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--no-upload", action="store_true", help="skip the 10 MB upload stage")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="only start the stack (AI at --ai-delay ms), print its URLs and a token, wait for "
        "Ctrl-C: for profiling by hand",
    )
    parser.add_argument("--ai-delay", type=int, default=50, help="AI delay with --hold (50)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (bench/run installs it)")

    # Ctrl-C raises KeyboardInterrupt even where SIGINT came in ignored (a background job of a
    # script), so that the cleanup below always runs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix=f"dermadetect-bench-{stamp}-"))
    stack = Stack(workdir, args.storage)
    log(f"logs and bodies in {workdir}")
    try:
        if args.storage == "s3":
            stack.start_s3()
        stack.create_database()
        if args.hold:
            return hold(stack, args.ai_delay)
        stack.start_ai(50)
        stack.start_gateway()
        cells, info = measure(args, stack)
        upload = None if args.no_upload else measure_upload(stack)
    finally:
        stack.close()

    measurements = wrkstats.Measurements(
        worker_rss_kib=[s["VmRSS"] for s in info["workers"].values()],
        worker_hwm_kib=[s["VmHWM"] for s in info["workers"].values()],
        upload_growth_kib=(upload or {}).get("growth_kib", {}),
    )
    targets = wrkstats.evaluate_targets(cells, measurements, HIGH)
    found = wrkstats.ratios(cells, HIGH)
    report(
        args=args,
        stamp=stamp,
        cells=cells,
        targets=targets,
        found=found,
        info=info,
        upload=upload,
    )
    return 0


def report(
    *,
    args: argparse.Namespace,
    stamp: str,
    cells: list[wrkstats.Cell],
    targets: list[wrkstats.Target],
    found: dict[str, float],
    info: dict[str, Any],
    upload: dict[str, Any] | None,
) -> None:
    results: Path = args.results
    cells_csv = results / f"{stamp}-cells.csv"
    targets_csv = results / f"{stamp}-targets.csv"
    wrkstats.write_csv(cells_csv, map(wrkstats.cell_row, cells), wrkstats.CSV_COLUMNS)
    wrkstats.write_csv(targets_csv, map(wrkstats.target_row, targets), wrkstats.TARGET_COLUMNS)

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print()
    print(
        f"Machine: {os.cpu_count()} cores, {mem:.1f} GiB; wrk, gateway, reference AI, "
        f"PostgreSQL and moto share the cores. Storage: {args.storage}. "
        f"Sample photo: {info.get('sample')}."
    )
    print()
    print(wrkstats.format_table(cells))
    print()
    print("Ratios measured in this run:")
    labels = {
        "next_added_p50_ms": "next_question p50 added by the gateway (1 conn), ms",
        "next_rps_ratio": f"next_question gateway/direct req/s ({HIGH} conn)",
        "me_added_p50_ms": "/api/users/me p50 minus /healthy p50 (1 conn), ms",
        "me_rps_ratio": f"/api/users/me / /healthy req/s ({HIGH} conn)",
        "diagnosis_ai_path_p50_ms": "diagnosis: the AI's own path, direct (1 conn), ms",
        "diagnosis_added_p50_ms": "diagnosis p50 added by the gateway (1 conn), ms",
    }
    for key, label in labels.items():
        if key in found:
            print(f"  {label:<55} {found[key]:8.3f}")
    print()
    print(f"Gateway workers after the run (worker restarts during it: {info['worker_restarts']}):")
    for pid, status in info["workers"].items():
        shares = (
            f", PSS {status['Pss'] / 1024:.1f} MB, private {status['Private'] / 1024:.1f} MB"
            if "Pss" in status
            else ""
        )
        print(
            f"  pid {pid}: VmRSS {status['VmRSS'] / 1024:.1f} MB, "
            f"VmHWM {status['VmHWM'] / 1024:.1f} MB{shares}"
        )
    if upload:
        print(
            f"One {upload['image_bytes'] / 1e6:.2f} MB JPEG (4000x3000) uploaded, one worker "
            f"(VmHWM reset by clear_refs: {'yes' if upload['clear_refs'] else 'no'}):"
        )
        for endpoint, (before, after) in upload["before_after_kib"].items():
            print(
                f"  {endpoint:<30} peak RSS {before / 1024:.1f} -> {after / 1024:.1f} MB "
                f"(+{(after - before) / 1024:.1f} MB)"
            )
    print()
    print(wrkstats.format_targets(targets))
    print()
    print(f"CSV: {cells_csv}, {targets_csv}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, Stop) as stop:
        print(f"\nbench interrupted ({str(stop) or 'Ctrl-C'}); everything it started was stopped.")
        sys.exit(130)
