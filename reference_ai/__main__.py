"""Run the reference AI service: ``python -m reference_ai [--host 127.0.0.1] [--port 8090]``.

Uses werkzeug's threaded server (fine for development, tests and benchmarks); for more, run
``gunicorn -w 2 -k gthread 'reference_ai.wsgi:app'``.
"""

from __future__ import annotations

import argparse
import logging

from werkzeug.serving import run_simple

from reference_ai import create_app


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m reference_ai",
        description="DermaDetect reference AI service (NOT for clinical use).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="TCP port (default 8090)")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run_simple(args.host, args.port, create_app(), threaded=True)


if __name__ == "__main__":
    main()
