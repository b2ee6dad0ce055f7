"""gunicorn settings for the gateway, read from the environment.

Why gthread: the gateway spends its time waiting on the AI Service, S3 and PostgreSQL (I/O), not
on the CPU. Threads let one worker process hold many slow AI calls at once without a process per
request, so a slow model cannot exhaust the server; a few processes use both cores for the CPU
parts (image checks, JSON). Capacity = workers x threads concurrent requests.
"""

import os

bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8080')}")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))

# A diagnosis makes up to three sequential rounds of AI calls (quality with prediction and red
# flags, then triage), each bounded by AI_SERVICE_TIMEOUT; the worker timeout must exceed that.
_ai_timeout = float(os.environ.get("AI_SERVICE_TIMEOUT", "30"))
timeout = int(max(60, 3 * _ai_timeout + 15))
graceful_timeout = 30
keepalive = 5

# Restart workers now and then so that slow leaks cannot accumulate.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Request id as echoed by the app on the response, so access lines match app log lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms request_id=%({x-request-id}o)s ua="%(a)s"'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# gunicorn's control socket defaults to one path per user: several gateways on one machine
# (tests, benchmarks) would fight over it, and nothing here uses it.
control_socket_disable = True
