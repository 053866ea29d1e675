"""``astrokeys-emulator`` / ``python -m pulumi_astrokeys.emulator``: run the emulator."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from .server import Bootstrap, Continuity, EmulatorServer, PortInUseError, read_bootstrap_file

DEFAULT_DB = "astrokeys-emulator.db"
DEFAULT_BOOTSTRAP = "astrokeys-emulator.json"
SHOWN_FIELDS = ("host", "organizationId", "workspaceId", "deploymentIds", "apiToken")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="astrokeys-emulator",
        description=(
            "Serve a local Astro API v1 (API tokens and Deployments) backed by SQLite. "
            "Once it accepts connections it writes the bootstrap JSON (host, organizationId, "
            "workspaceId, deploymentIds, apiToken) and prints export lines for "
            "ASTRO_API_HOST, ASTRO_API_TOKEN and ASTRO_ORGANIZATION_ID on stdout, after a comment "
            "line saying what it kept. Restarted on the same database, it keeps the host, the "
            "organization and the owner token (read back from the bootstrap file) unless asked otherwise."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to listen on; by default the port this database was served on before, "
        "or a free one the first time; 0 picks a free one. It is announced in the "
        "bootstrap file and the export lines",
    )
    parser.add_argument(
        "--new-token",
        action="store_true",
        help="give the owner token a new value; the previous one stops working "
        "(by default a restart keeps the value the bootstrap file holds)",
    )
    parser.add_argument(
        "--show",
        choices=SHOWN_FIELDS,
        metavar="FIELD",
        help="print one field of the bootstrap file of a running emulator and exit, for "
        "`pulumi config set`: " + ", ".join(SHOWN_FIELDS) + " (deploymentIds one a line)",
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


def continuity_notice(continuity: Continuity, db_path: str) -> str:
    """One comment line: what this start kept of the previous one on the same database."""
    if continuity.new_database:
        return f"# A new emulator database, {db_path}: restarted on it, the emulator keeps this host, organization and API token."
    if continuity.same_host and continuity.same_token:
        return (
            f"# Restarted on {db_path}: the same host, organization and API token as before, so stored settings "
            "still work (--new-token gives a new token, --port 0 a new port)."
        )
    changed = " and ".join(
        what for what, same in (("a new host", continuity.same_host), ("a new API token", continuity.same_token)) if not same
    )
    return (
        f"# Restarted on {db_path}: the same organization, with {changed}; set the new values where the old ones "
        "are stored (pulumi config set astrokeys:host, pulumi config set --secret astrokeys:apiToken)."
    )


def show(bootstrap_file: str, field: str) -> int:
    """Print ``field`` of the bootstrap file (a list one item a line); 1 with a message if there is none."""
    data = read_bootstrap_file(bootstrap_file)
    if data is None or field not in data:
        print(
            f"astrokeys-emulator: no bootstrap file at {bootstrap_file}: start the emulator in this folder first "
            "(or pass the --bootstrap-file it was started with)",
            file=sys.stderr,
        )
        return 1
    value = data[field]
    print("\n".join(value) if isinstance(value, list) else value)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.show:
        return show(args.bootstrap_file, args.show)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )

    def announce(bootstrap: Bootstrap) -> None:
        assert server.continuity is not None
        print(continuity_notice(server.continuity, args.db), *bootstrap.export_lines(), sep="\n", flush=True)

    server = EmulatorServer(
        args.db,
        host=args.host,
        port=args.port,
        rate_limits=not args.no_rate_limits,
        bootstrap_file=args.bootstrap_file,
        on_ready=announce,
        log_level=args.log_level,
        new_token=args.new_token,
    )
    try:
        server.serve()
    except PortInUseError as error:
        print(f"astrokeys-emulator: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
