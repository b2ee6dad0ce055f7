"""WSGI entry point: ``gunicorn 'reference_ai.wsgi:app'``."""

from reference_ai import create_app

app = create_app()
