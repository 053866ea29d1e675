"""``astrokeys-emulator`` / ``python -m pulumi_astrokeys.emulator``: run the emulator."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from .server import Bootstrap, EmulatorServer

DEFAULT_DB = "astrokeys-emulator.db"
DEFAULT_BOOTSTRAP = "astrokeys-emulator.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="astrokeys-emulator",
        description=(
            "Serve a local Astro API v1 (API tokens and Deployments) backed by SQLite. "
            "Once it accepts connections it writes the bootstrap JSON (host, organizationId, "
            "workspaceId, deploymentIds, apiToken) and prints export lines for "
            "ASTRO_API_HOST, ASTRO_API_TOKEN and ASTRO_ORGANIZATION_ID on stdout. "
            "The owner token is minted anew at every start."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port to listen on; 0 (the default) picks a free port, announced in the "
        "bootstrap file and the export lines",
    )
    parser.add_argument(
        "--db",
        default=DEFAULT_DB,
        metavar="PATH",
        help="SQLite database; reusing it keeps the organization, Deployments, tokens "
        "and ids (default: %(default)s in the current directory)",
    )
    parser.add_argument(
        "--bootstrap-file",
        default=DEFAULT_BOOTSTRAP,
        metavar="PATH",
        help="where to write the bootstrap JSON, rewritten at every start "
        "(default: %(default)s in the current directory)",
    )
    parser.add_argument(
        "--no-rate-limits",
        action="store_true",
        help="turn off the per-token rate limits (POST 10/s, DELETE 5/s, GET 25/s)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log verbosity on stderr (default: %(default)s); logs never contain token values",
    )
    return parser


def _announce(bootstrap: Bootstrap) -> None:
    print("\n".join(bootstrap.export_lines()), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    server = EmulatorServer(
        args.db,
        host=args.host,
        port=args.port,
        rate_limits=not args.no_rate_limits,
        bootstrap_file=args.bootstrap_file,
        on_ready=_announce,
        log_level=args.log_level,
    )
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
