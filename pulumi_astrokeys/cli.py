"""The ``astrokeys`` command: ``astrokeys audit`` and ``astrokeys delete-key``.

``astrokeys audit`` lists the Deployment API keys of some Deployments, given by ID or
taken from a stack's state (``pulumi stack export`` output, from a file or standard
input), with what needs attention; see :mod:`pulumi_astrokeys.audit` for the logic
and :data:`EPILOG` for the exit codes. ``astrokeys delete-key`` deletes one key a
person names, after reading it again: for what the audit leaves to a person. Both read
the same settings as the provider (``ASTRO_API_HOST``, ``ASTRO_API_TOKEN``,
``ASTRO_ORGANIZATION_ID`` and the ``ASTROKEYS_*`` retry settings) and never print a
secret.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import Optional, TextIO

from ._errors import AstroKeysError, ConfigurationError
from .audit import (
    DEFAULT_EXPIRING_WITHIN_DAYS,
    EXIT_ERROR,
    EXIT_EXPIRING,
    EXIT_IN_FLIGHT,
    EXIT_OK,
    EXIT_ORPHANS,
    MAX_STATE_BYTES,
    AuditError,
    StackKeys,
    audit,
    delete_key,
    delete_orphans,
    merge_stacks,
    parse_stack_document,
    read_stack_keys,
)

__all__ = ["main", "run"]

EPILOG = f"""\
exit status:
  0   nothing that fails the audit
  1   the audit could not run (bad input, missing settings, the API refused)
  2   the command line is wrong
  {EXIT_EXPIRING}   a key has expired or expires within --expiring-within days
  {EXIT_ORPHANS}   an orphan (a create of the stack abandoned for good, still carrying its create
      marker) or a suspect (what looks like an interrupted create, without proof) is left;
      orphans deleted by --delete-orphans no longer count
  {EXIT_IN_FLIGHT}  a create of the stack may still be under way: run the audit again after the
      time it names (at most 10 minutes after the create began, on Astro's clock)
  several of these add up (12 = 4 + 8)

settings come from the environment, as for the provider: ASTRO_API_TOKEN,
ASTRO_ORGANIZATION_ID, ASTRO_API_HOST (default https://api.astronomer.io) and the
ASTROKEYS_MAX_RETRIES, ASTROKEYS_RETRY_BACKOFF, ASTROKEYS_REQUEST_TIMEOUT tuning.
"""


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = -1
    if days < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days, 0 or more (e.g. 30)")
    return days


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="astrokeys", description="Tools for Astro Deployment API keys managed with pulumi-astrokeys."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    auditing = commands.add_parser(
        "audit",
        help="list the Deployment API keys of Deployments, with what needs attention",
        description=(
            "List every Deployment API key of the given Deployments and of a stack's keys: name, key ID, "
            "whether the stack manages it, who created it, when, when it expires and when it was last "
            "used. Reports expired and expiring keys, keys never used, keys the stack does not manage, "
            "orphans (keys still carrying the create marker of one of the stack's own creates, abandoned "
            "for good on Astro's clock: what an interrupted `pulumi up` leaves), creates still in flight, "
            "and suspects (what only looks like an interrupted create). Never prints a secret."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    auditing.add_argument("deployment_ids", nargs="*", metavar="DEPLOYMENT_ID", help="a Deployment to audit")
    auditing.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="FILE",
        help="a stack's state, as `pulumi stack export` writes it; `-` reads it from standard input. "
        "Its keys' Deployments are audited too. May be repeated: give every stack that shares the "
        "Deployments, so that their keys read as managed.",
    )
    auditing.add_argument(
        "--expiring-within",
        type=_days,
        default=DEFAULT_EXPIRING_WITHIN_DAYS,
        metavar="DAYS",
        help=f"report keys expiring within DAYS days, and exit {EXIT_EXPIRING} (default {DEFAULT_EXPIRING_WITHIN_DAYS})",
    )
    auditing.add_argument(
        "--created-by",
        action="append",
        default=[],
        metavar="ID",
        help="count as orphans only keys these API tokens created (by ID); an abandoned create of another "
        "creator is then a suspect. May be repeated.",
    )
    auditing.add_argument(
        "--delete-orphans",
        action="store_true",
        help="delete the orphans after listing them, each read and proven again first; nothing else",
    )
    auditing.add_argument("--json", action="store_true", help="print the report as JSON")

    deleting = commands.add_parser(
        "delete-key",
        help="delete one Deployment API key you name, after reading it again",
        description=(
            "Delete one Deployment API key: for a suspect the audit leaves to a person, once you know it is "
            "yours and nobody uses it. The key is read again first and deleted only if it is still a key of "
            "that Deployment with that name (a mistyped ID deletes nothing), and never if the given stack "
            "manages it."
        ),
    )
    deleting.add_argument("key_id", metavar="KEY_ID", help="the key's ID, as the audit lists it")
    deleting.add_argument("--deployment", required=True, metavar="DEPLOYMENT_ID", help="the key's Deployment")
    deleting.add_argument("--name", required=True, help="the key's name, as the audit lists it")
    deleting.add_argument(
        "--stack", action="append", default=[], metavar="FILE", help="refuse if this stack's state manages the key"
    )
    return parser


def main(
    argv: Optional[Sequence[str]] = None,
    *,
    stdin: Optional[TextIO] = None,
    stdout: Optional[TextIO] = None,
    stderr: Optional[TextIO] = None,
) -> int:
    """Run ``astrokeys`` with ``argv``; return the exit status (see :data:`EPILOG`)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = _parser()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed the usage error, or the help
        return int(exit_.code or 0)
    command = f"astrokeys {args.command}"
    try:
        if args.command == "delete-key":
            return _delete_key(args, stdin, stdout)
        return _audit(args, stdin, stdout)
    except ConfigurationError as error:
        print(f"{command}: error: {error} (astrokeys reads the environment, not stack config)", file=stderr)
        return EXIT_ERROR
    except AstroKeysError as error:
        print(f"{command}: error: {error}", file=stderr)
        return EXIT_ERROR


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())


def _audit(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from ._audit_table import deletion_lines, render_table, result_line
    from ._client import AstroClient

    stack = merge_stacks(_read_stack(path, stdin) for path in args.stack)
    if not args.deployment_ids and stack is None:
        raise AuditError(
            "nothing to audit: give Deployment IDs, or a stack's state with --stack FILE "
            "(`pulumi stack export > stack.json`, or `pulumi stack export | astrokeys audit --stack -`)"
        )
    with AstroClient.from_config(stack_config=False) as client:
        report = audit(
            client,
            args.deployment_ids,
            stack=stack,
            expiring_within_days=args.expiring_within,
            created_by=args.created_by,
        )
        orphans_before = len(report.orphans)
        if args.delete_orphans and orphans_before:
            if not args.json:
                stdout.write(render_table(report) + "\n")
                stdout.write(f"Deleting {orphans_before} orphan{'' if orphans_before == 1 else 's'}...\n")
                stdout.flush()
            report = delete_orphans(client, report)
            if not args.json:
                stdout.write(deletion_lines(report))
                stdout.write(result_line(report) + "\n")
                return report.exit_code()
    if args.json:
        json.dump(report.to_json(), stdout, indent=2)
        stdout.write("\n")
    else:
        stdout.write(render_table(report, delete_requested=args.delete_orphans) + "\n")
        stdout.write(result_line(report) + "\n")
    return report.exit_code()


def _delete_key(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    from ._audit_table import printable
    from ._client import AstroClient

    stack = merge_stacks(_read_stack(path, stdin) for path in args.stack)
    with AstroClient.from_config(stack_config=False) as client:
        done = delete_key(client, args.key_id, deployment_id=args.deployment, name=args.name, stack=stack)
    what = f"key {printable(done.name)} ({done.key_id}) on Deployment {done.deployment_id}"
    stdout.write(f"{'Already gone' if done.already_gone else 'Deleted'}: {what}.\n")
    return EXIT_OK


def _read_stack(path: str, stdin: TextIO) -> StackKeys:
    """One ``--stack`` input, read up to :data:`MAX_STATE_BYTES` (one byte more says it is too big)."""
    source = "standard input" if path == "-" else path
    data: bytes | str
    try:
        if path == "-":
            buffer = getattr(stdin, "buffer", None)
            data = buffer.read(MAX_STATE_BYTES + 1) if buffer is not None else stdin.read(MAX_STATE_BYTES + 1)
        else:
            with open(path, "rb") as file:
                data = file.read(MAX_STATE_BYTES + 1)
    except OSError as error:
        raise AuditError(f"--stack {path}: cannot read it ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise AuditError(f"--stack {path}: {source} is not UTF-8 text (byte {error.start})") from None
    try:
        return read_stack_keys(parse_stack_document(data, source), source)
    except AuditError as error:
        raise AuditError(f"--stack {path}: {error}") from None


