"""Deployment files, checked statically (no Docker engine or cluster on the test machines).

Kubernetes manifests are loaded and their required fields and cross-references validated; the
compose file, the Dockerfile, ``.env.example`` and ``gunicorn.conf.py`` are checked against each
other and against the settings the code reads.
"""

from __future__ import annotations

import json
import re
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ProductionConfig

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "dermadetect"
CLUSTER_SCOPED = {"Namespace"}

# --- settings read by the code -------------------------------------------------------------

_ENV_READ = re.compile(
    r"""(?:env_(?:str|int|float|bool)|os\.environ\.get|os\.getenv|os\.environ\.setdefault"""
    r"""|_int)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
    r"""|["']([A-Z][A-Z0-9_]*)["']\s+(?:not\s+)?in\s+os\.environ"""
)


#: Variables Flask itself sets and the code only looks at (not settings for an operator).
FLASK_OWN = {"FLASK_RUN_FROM_CLI"}


def _env_names(path: Path) -> set[str]:
    return {"".join(groups) for groups in _ENV_READ.findall(path.read_text())}


def _settings_read_by_the_gateway() -> dict[str, Path]:
    """Every environment variable read by config.py, gunicorn.conf.py, wsgi.py and app/."""
    sources = [ROOT / "config.py", ROOT / "gunicorn.conf.py", ROOT / "wsgi.py"]
    sources += sorted((ROOT / "app").rglob("*.py"))
    found: dict[str, Path] = {}
    for source in sources:
        for name in _env_names(source) - FLASK_OWN:
            found.setdefault(name, source)
    return found


def _documented() -> set[str]:
    """Names set (commented out or not) in .env.example, as ``NAME=value`` lines."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def test_the_scanner_sees_known_settings() -> None:
    read = _settings_read_by_the_gateway()
    for name in ("SECRET_KEY", "DATABASE_URL", "AI_SERVICE_URL", "WEB_CONCURRENCY", "PORT"):
        assert name in read


def test_env_example_documents_every_setting_read_by_the_gateway() -> None:
    documented = _documented()
    missing = {
        name: str(path.relative_to(ROOT))
        for name, path in _settings_read_by_the_gateway().items()
        if name not in documented
    }
    assert not missing, f"add these to .env.example (name: where it is read): {missing}"


def test_env_example_documents_nothing_stale() -> None:
    read = set(_settings_read_by_the_gateway())
    read |= _env_names(ROOT / "reference_ai" / "__init__.py")  # the compose AI service
    external = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}  # boto3's own variables
    stale = _documented() - read - external
    assert not stale, f".env.example documents settings nothing reads: {sorted(stale)}"


def test_env_example_comments_every_setting() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^#?\s?[A-Z][A-Z0-9_]*=", line):
            previous = lines[index - 1]
            assert previous.startswith("#"), f"no comment above {line!r}"


# --- Kubernetes ----------------------------------------------------------------------------


def _documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(K8S.glob("*.y*ml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:
                yield path.name, document


DOCUMENTS = list(_documents())


def _only(kind: str) -> dict[str, Any]:
    found = [doc for _, doc in DOCUMENTS if doc.get("kind") == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def test_manifests_exist() -> None:
    kinds = {doc["kind"] for _, doc in DOCUMENTS}
    assert {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Job",
        "CronJob",
        "PodDisruptionBudget",
        "Kustomization",
    } <= kinds


@pytest.mark.parametrize(
    ("file", "document"),
    [(file, doc) for file, doc in DOCUMENTS if doc.get("kind") != "Kustomization"],
    ids=[
        f"{file}:{doc.get('kind')}" for file, doc in DOCUMENTS if doc.get("kind") != "Kustomization"
    ],
)
def test_every_manifest_has_its_required_fields(file: str, document: dict[str, Any]) -> None:
    assert isinstance(document.get("apiVersion"), str) and document["apiVersion"], file
    assert isinstance(document.get("kind"), str) and document["kind"], file
    metadata = document.get("metadata") or {}
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", metadata.get("name", "")), file
    if document["kind"] not in CLUSTER_SCOPED:
        assert metadata.get("namespace") == NAMESPACE, f"{file}: namespace"
    expected_api = {
        "Namespace": "v1",
        "ConfigMap": "v1",
        "Secret": "v1",
        "Service": "v1",
        "Deployment": "apps/v1",
        "Job": "batch/v1",
        "CronJob": "batch/v1",
        "HorizontalPodAutoscaler": "autoscaling/v2",
        "PodDisruptionBudget": "policy/v1",
    }
    assert document["apiVersion"] == expected_api[document["kind"]], file


def test_kustomization_lists_exactly_the_manifests() -> None:
    kustomization = _only("Kustomization")
    assert kustomization["apiVersion"].startswith("kustomize.config.k8s.io/")
    listed = kustomization["resources"]
    on_disk = {path.name for path in K8S.glob("*.y*ml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(on_disk)
    assert listed.index("namespace.yaml") == 0


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _env_sources(container: dict[str, Any]) -> tuple[str, str]:
    refs = container["envFrom"]
    config_maps = [ref["configMapRef"]["name"] for ref in refs if "configMapRef" in ref]
    secrets = [ref["secretRef"]["name"] for ref in refs if "secretRef" in ref]
    assert len(config_maps) == 1 and len(secrets) == 1
    return config_maps[0], secrets[0]


def _dockerfile_uid() -> int:
    users = re.findall(r"^USER\s+(\S+)", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)
    return int(users[-1].split(":")[0])


def _check_pod_security(pod: dict[str, Any], container: dict[str, Any]) -> None:
    pod_security = pod["securityContext"]
    assert pod_security["runAsNonRoot"] is True
    assert pod_security["runAsUser"] == _dockerfile_uid()
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert "/tmp" in mounts, "a read-only root needs a writable /tmp"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_deployment() -> None:
    deployment = _only("Deployment")
    spec = deployment["spec"]
    selector = spec["selector"]["matchLabels"]
    template_labels = spec["template"]["metadata"]["labels"]
    assert selector, "empty selector"
    assert selector.items() <= template_labels.items(), "selector must match the pod labels"

    container = _container(deployment)
    assert container["image"] and not container["image"].endswith(":latest")
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": 8080}

    liveness, readiness = container["livenessProbe"], container["readinessProbe"]
    assert liveness["httpGet"]["path"] == "/healthy"
    assert readiness["httpGet"]["path"] == "/health"
    assert liveness["httpGet"]["port"] in ("http", 8080)
    assert readiness["httpGet"]["port"] in ("http", 8080)
    # Sized from bench/README.md: /healthy p99 214 ms with 256 diagnoses on a 2 s model; the
    # liveness timeout keeps ~10x that, and a restart needs 30 s of misses.
    assert liveness["timeoutSeconds"] >= 2
    assert liveness["timeoutSeconds"] * 1000 >= 5 * 214
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 30
    # /health waits up to HEALTH_DB_TIMEOUT for the database before answering 503.
    config = _only("ConfigMap")["data"]
    assert readiness["timeoutSeconds"] > float(config.get("HEALTH_DB_TIMEOUT", 2.0))

    config_map, secret = _env_sources(container)
    assert config_map == _only("ConfigMap")["metadata"]["name"]
    assert secret == _only("Secret")["metadata"]["name"]

    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]

    pod = spec["template"]["spec"]
    _check_pod_security(pod, container)
    graceful = int(config.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
    assert pod["terminationGracePeriodSeconds"] > graceful


def test_service_targets_the_deployment() -> None:
    service, deployment = _only("Service"), _only("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert selector and selector.items() <= labels.items()
    ports = {port["name"]: port["containerPort"] for port in _container(deployment)["ports"]}
    for port in service["spec"]["ports"]:
        target = port["targetPort"]
        assert target in ports or target in ports.values()


def test_hpa_scales_the_deployment_on_cpu() -> None:
    hpa, deployment = _only("HorizontalPodAutoscaler"), _only("Deployment")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert target["name"] == deployment["metadata"]["name"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    metrics = [metric["resource"]["name"] for metric in hpa["spec"]["metrics"]]
    assert "cpu" in metrics
    assert _container(deployment)["resources"]["requests"]["cpu"], "HPA needs a CPU request"


def test_pdb_selects_the_deployment_pods() -> None:
    pdb, deployment = _only("PodDisruptionBudget"), _only("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < deployment["spec"]["replicas"] or (
        pdb["spec"]["minAvailable"] < _only("HorizontalPodAutoscaler")["spec"]["minReplicas"]
    )


def test_job_runs_the_migrations_with_the_same_image_and_settings() -> None:
    job, deployment = _only("Job"), _only("Deployment")
    container = _container(job)
    command = container.get("command", []) + container.get("args", [])
    assert command == ["flask", "db", "upgrade"]
    assert container["image"] == _container(deployment)["image"]
    assert _env_sources(container) == _env_sources(_container(deployment))
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    _check_pod_security(pod, container)


def test_cron_job_purges_tokens_daily_with_the_same_image_and_settings() -> None:
    cron, deployment = _only("CronJob"), _only("Deployment")
    minute, hour, day, month, weekday = cron["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and (day, month, weekday) == ("*", "*", "*")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]
    container = _container(job)
    assert container.get("command", []) + container.get("args", []) == ["flask", "tokens", "purge"]
    assert container["image"] == _container(deployment)["image"]
    assert _env_sources(container) == _env_sources(_container(deployment))
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    _check_pod_security(pod, container)


def test_config_map_and_secret_hold_only_known_settings() -> None:
    documented = _documented()
    config = _only("ConfigMap")["data"]
    secret = _only("Secret")["stringData"]
    assert all(isinstance(value, str) for value in config.values()), "ConfigMap values are strings"
    assert not (set(config) - documented), set(config) - documented
    assert not (set(secret) - documented), set(secret) - documented
    assert not set(config) & set(secret), "a setting in both the ConfigMap and the Secret"
    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL"):
        assert name in secret and name not in config


def test_secret_template_holds_placeholders_that_production_refuses() -> None:
    secret = _only("Secret")["stringData"]
    assert all("CHANGE-ME" in value for value in secret.values())
    config = {
        "STORAGE_BACKEND": "s3",
        "LOG_FORMAT": "json",
        "SECRET_KEY": secret["SECRET_KEY"],
        "JWT_SECRET_KEY": secret["JWT_SECRET_KEY"],
        "SQLALCHEMY_DATABASE_URI": secret["DATABASE_URL"],
    }
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        ProductionConfig.validate(config)


# --- docker compose ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """docker-compose.yml, parsed (YAML merge keys resolved)."""
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _default(value: str) -> str:
    """Resolve ``${NAME:-default}`` substitutions to their defaults."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    assert isinstance(environment, dict), "use the mapping form of environment"
    return {key: _default(str(value)) for key, value in environment.items()}


def test_compose_describes_the_whole_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"gateway", "postgres", "ai", "minio", "migrate", "createbucket"} <= set(services)
    assert re.fullmatch(r"postgres:16(\.\d+)*(-\w+)?", services["postgres"]["image"])
    assert "healthcheck" in services["postgres"]
    assert "minio" in services["minio"]["image"]
    for name in ("gateway", "ai", "migrate"):
        assert services[name]["build"]["context"] == "."
        assert services[name]["image"] == services["gateway"]["image"]  # one image, built once


def test_compose_gateway_waits_for_migrations_bucket_and_ai(compose: dict[str, Any]) -> None:
    services = compose["services"]
    depends = services["gateway"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["createbucket"]["condition"] == "service_completed_successfully"
    assert depends["ai"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["flask", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["createbucket"]["depends_on"]["minio"]["condition"] == "service_healthy"


def test_compose_services_point_at_each_other(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gateway = _env(services["gateway"])
    assert _env(services["migrate"]) == gateway
    assert services["ai"]["command"] == [
        "python",
        "-m",
        "reference_ai",
        "--host",
        "0.0.0.0",
        "--port",
        "8090",
    ]
    assert gateway["AI_SERVICE_URL"] == "http://ai:8090"
    assert gateway["AI_SERVICE_TOKEN"] == _env(services["ai"])["REFERENCE_AI_TOKEN"]
    assert gateway["S3_ENDPOINT_URL"] == "http://minio:9000"
    assert gateway["STORAGE_BACKEND"] == "s3"
    assert gateway["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in gateway["DATABASE_URL"]
    postgres = _env(services["postgres"])
    assert (
        f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@" in gateway["DATABASE_URL"]
    )
    bucket_job = " ".join(services["createbucket"]["command"])
    assert "mc mb" in bucket_job
    assert _env(services["createbucket"])["S3_BUCKET"] == gateway["S3_BUCKET"]
    minio = _env(services["minio"])
    assert gateway["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert gateway["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    # The gateway writes with SSE (AES256); MinIO accepts that only with a KMS key configured.
    assert "MINIO_KMS_SECRET_KEY" in minio
    assert services["gateway"]["ports"] == ["8080:8080"]


def test_compose_gateway_settings_pass_production_validation(compose: dict[str, Any]) -> None:
    gateway = _env(compose["services"]["gateway"])
    assert gateway["APP_ENV"] == "production"
    ProductionConfig.validate(
        {
            "STORAGE_BACKEND": gateway["STORAGE_BACKEND"],
            "LOG_FORMAT": gateway["LOG_FORMAT"],
            "SECRET_KEY": gateway["SECRET_KEY"],
            "JWT_SECRET_KEY": gateway["JWT_SECRET_KEY"],
            "SQLALCHEMY_DATABASE_URI": gateway["DATABASE_URL"],
        }
    )
    assert set(gateway) <= _documented() | {"APP_ENV"}


# --- Dockerfile ----------------------------------------------------------------------------


def _dockerfile() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _final_stage() -> list[str]:
    lines = _dockerfile()
    starts = [index for index, line in enumerate(lines) if line.upper().startswith("FROM ")]
    assert len(starts) >= 2, "multi-stage build expected"
    return lines[starts[-1] :]


def test_dockerfile_runtime_stage() -> None:
    stage = _final_stage()
    assert stage[0].split()[1] == "python:3.11-slim"
    assert any(line.startswith("COPY --from=builder /opt/venv") for line in stage)
    users = [line.split()[1] for line in stage if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "EXPOSE 8080" in stage
    env = " ".join(line for line in stage if line.startswith("ENV "))
    assert "APP_ENV=production" in env
    assert "FLASK_APP=wsgi" in env  # `flask db upgrade` in the migrate Job / service
    cmd = [line for line in stage if line.startswith("CMD ")]
    assert json.loads(cmd[-1].removeprefix("CMD ")) == [
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        "wsgi:app",
    ]


def test_dockerfile_healthcheck_uses_python_on_healthy() -> None:
    health = [line for line in _final_stage() if line.startswith("HEALTHCHECK ")]
    assert len(health) == 1
    assert "/healthy" in health[0]
    assert "urllib" in health[0]
    assert "curl" not in health[0]  # not in the slim image


def test_dockerfile_copies_what_the_image_needs_and_dockerignore_keeps_it() -> None:
    copied = " ".join(line for line in _final_stage() if line.startswith("COPY "))
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    }
    for needed in (
        "app/",
        "migrations/",
        "reference_ai/",
        "config.py",
        "wsgi.py",
        "gunicorn.conf.py",
    ):
        assert needed in copied, f"the image needs {needed}"
        assert (ROOT / needed).exists()
        assert needed.rstrip("/") not in ignored
    assert "requirements.txt" not in ignored
    for secret_or_bulk in (".git", ".venv", ".env", "tests"):
        assert secret_or_bulk in ignored


# --- gunicorn ------------------------------------------------------------------------------


def test_gunicorn_settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("AI_SERVICE_TIMEOUT", "40")
    monkeypatch.setenv("AI_SERVICE_DEADLINE", "90")
    monkeypatch.setenv("S3_DEADLINE", "20")
    monkeypatch.setenv("GUNICORN_KEEPALIVE", "75")
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.setenv("GUNICORN_WORKER_CONNECTIONS", "500")
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["worker_class"] == "app.worker.FairGeventWorker"
    assert settings["max_requests"] == 0  # no restarts unless GUNICORN_MAX_REQUESTS asks
    assert (settings["workers"], settings["worker_connections"]) == (3, 500)
    assert settings["bind"] == "0.0.0.0:9000"
    assert settings["keepalive"] == 75
    # Above the slowest diagnosis: its AI deadline (all calls together) and its S3 deadline;
    # the per-read AI_SERVICE_TIMEOUT no longer counts.
    assert settings["timeout"] > 90 + 20
    monkeypatch.setenv("AI_SERVICE_DEADLINE", "30")
    monkeypatch.setenv("S3_DEADLINE", "10")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["timeout"] == 60
    assert "request_id=%({x-request-id}o)s" in settings["access_log_format"]


def test_gunicorn_rejects_a_malformed_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "two")
    with pytest.raises(ValueError, match="WEB_CONCURRENCY"):
        runpy.run_path(str(ROOT / "gunicorn.conf.py"))
