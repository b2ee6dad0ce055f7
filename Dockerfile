# syntax=docker/dockerfile:1
# DermaDetect API Gateway: gunicorn (gevent workers) serving wsgi:app on port 8080 as a non-root user.
# The same image runs the migrations (`flask db upgrade`) and, for local stacks only, the
# reference AI service (`python -m reference_ai`).
#   docker build -t dermadetect-gateway .
#   docker compose up        (see docker-compose.yml)

# --- builder: resolve and install the pinned requirements into a self-contained venv ----------
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# The compiled dependencies (psycopg[binary], argon2-cffi, pillow, pillow-heif) ship manylinux
# wheels with their libraries inside: no compiler and no apt packages are needed.
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt

# --- runtime ----------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    FLASK_APP=wsgi \
    PORT=8080

# WeasyPrint (the PDF report) draws text with Pango and needs a font: Debian's packages.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# Code is owned by root and read-only for the app user: a compromised worker cannot change it.
COPY app/ app/
COPY migrations/ migrations/
COPY reference_ai/ reference_ai/
COPY config.py wsgi.py gunicorn.conf.py ./
# Compile once at build time: the root filesystem may be read-only at run time.
RUN python -m compileall -q app migrations reference_ai config.py wsgi.py

USER 10001:10001
EXPOSE 8080

# Liveness only (/healthy): the database is checked by the readiness probe of the orchestrator.
# python urllib, because the slim image has no curl. The 4 s timeout covers the interpreter's
# start; the gevent workers answered /healthy at p99 214 ms under 256 diagnoses held on a 2 s
# model (bench/README.md).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthy' % os.environ.get('PORT', '8080'), timeout=4)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
