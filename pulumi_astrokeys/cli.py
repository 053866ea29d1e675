"""The ``astrokeys`` command. One subcommand so far: ``astrokeys audit``.

``astrokeys audit`` lists the Deployment API keys of some Deployments, given by ID or
taken from a stack's state (``pulumi stack export`` output, from a file or standard
input), with what needs attention; see :mod:`pulumi_astrokeys.audit` for the logic
and :data:`EPILOG` for the exit codes. It reads the same settings as the provider
(``ASTRO_API_HOST``, ``ASTRO_API_TOKEN``, ``ASTRO_ORGANIZATION_ID`` and the
``ASTROKEYS_*`` retry settings) and never prints a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, TextIO

from ._errors import AstroKeysError, ConfigurationError
from .audit import (
    DEFAULT_EXPIRING_WITHIN_DAYS,
    EXIT_ERROR,
    EXIT_EXPIRING,
    EXIT_ORPHANS,
    EXPIRED,
    EXPIRING,
    NEVER_USED,
    ORPHAN,
    UNMANAGED,
    AuditError,
    AuditReport,
    KeyAudit,
    StackKeys,
    audit,
    delete_orphans,
    merge_stacks,
    read_stack_keys,
)

__all__ = ["main", "run"]

EPILOG = f"""\
exit status:
  0   nothing that fails the audit
  1   the audit could not run (bad input, missing settings, the API refused)
  2   the command line is wrong
  {EXIT_EXPIRING}   a key has expired or expires within --expiring-within days
  {EXIT_ORPHANS}   an orphan exists (created by the stack's API token, named like one of its keys,
      not in its state); orphans deleted by --delete-orphans no longer count
  {EXIT_EXPIRING + EXIT_ORPHANS}  both

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
            "and orphans: keys the stack's API token created, named like one of the stack's keys, that "
            "its state does not hold (what an interrupted `pulumi up` leaves). Never prints a secret."
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
        "Its keys' Deployments are audited too. May be repeated.",
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
        help="the ID of the API token the stack runs with, for the orphan check (default: the creator Astro "
        "records on the keys the state holds). May be repeated.",
    )
    auditing.add_argument(
        "--delete-orphans", action="store_true", help="delete the orphans after listing them; nothing else"
    )
    auditing.add_argument("--json", action="store_true", help="print the report as JSON")
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
    try:
        return _audit(args, stdin, stdout)
    except ConfigurationError as error:
        print(f"astrokeys audit: error: {error} (astrokeys reads the environment, not stack config)", file=stderr)
        return EXIT_ERROR
    except AstroKeysError as error:
        print(f"astrokeys audit: error: {error}", file=stderr)
        return EXIT_ERROR


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())


def _audit(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
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
                stdout.write(f"Deleting {orphans_before} orphan{_s(orphans_before)}...\n")
                stdout.flush()
            report = delete_orphans(client, report)
            if not args.json:
                stdout.write(_deletion_lines(report))
                stdout.write(_result_line(report) + "\n")
                return report.exit_code()
    if args.json:
        json.dump(report.to_json(), stdout, indent=2)
        stdout.write("\n")
    else:
        stdout.write(render_table(report, delete_requested=args.delete_orphans) + "\n")
        stdout.write(_result_line(report) + "\n")
    return report.exit_code()


def _read_stack(path: str, stdin: TextIO) -> StackKeys:
    source = "standard input" if path == "-" else path
    try:
        text = stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise AuditError(f"--stack {path}: cannot read it ({error.strerror or error})") from None
    if not text.strip():
        raise AuditError(f"--stack {path}: {source} is empty; pass the output of `pulumi stack export`")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise AuditError(
            f"--stack {path}: {source} is not JSON (line {error.lineno}, column {error.colno}); "
            "pass the output of `pulumi stack export`"
        ) from None
    return read_stack_keys(document, source)


# -- the table ------------------------------------------------------------------------------

_COLUMNS = ("NAME", "KEY ID", "MANAGED", "CREATED BY", "CREATED", "EXPIRES", "LAST USED", "FINDINGS")


def render_table(report: AuditReport, *, delete_requested: bool = False) -> str:
    """The report for a terminal: one table per Deployment, then notes. Times are UTC."""
    n_keys, n_deps = len(report.keys), len(report.deployment_ids)
    lines = [
        f"{n_keys} Deployment API key{_s(n_keys)} on {n_deps} Deployment{_s(n_deps)} of organization "
        f"{report.organization_id}, at {report.audited_at} (times in UTC)",
    ]
    rows = {entry.key.key_id: _row(entry) for entry in report.keys}
    widths = [max(len(c), *(len(r[i]) for r in rows.values())) for i, c in enumerate(_COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    for deployment_id in report.deployment_ids:
        entries = [e for e in report.keys if e.key.deployment_id == deployment_id]
        lines += ["", f"Deployment {deployment_id}"]
        if deployment_id in report.gone_deployments:
            lines.append("  (no longer exists)")
        elif not entries:
            lines.append("  (no Deployment API keys)")
        else:
            lines.append(line(_COLUMNS))
            lines += [line(rows[e.key.key_id]) for e in entries]
    lines.append("")
    lines.extend(_notes(report, delete_requested))
    return "\n".join(lines)


def _row(entry: KeyAudit) -> list[str]:
    key = entry.key
    managed = {True: "yes", False: "no", None: "-"}[entry.managed]
    creator = key.created_by.display_name if key.created_by is not None else "-"
    if key.end_at is None:
        expires = "never"
    elif entry.days_left is not None and entry.days_left <= 0:
        expires = f"{_short(key.end_at)} (expired)"
    else:
        expires = f"{_short(key.end_at)} ({_days_text(entry.days_left)})"
    findings = ", ".join(entry.findings) or "-"
    if entry.deleted:
        findings += " (deleted)"
    last_used = _short(key.last_used_at) if key.last_used_at else "never"
    return [key.name, key.key_id, managed, creator, _short(key.created_at), expires, last_used, findings]


def _short(timestamp: str) -> str:
    """``2026-11-29T00:13:30Z`` as ``2026-11-29 00:13``: enough for a person, narrower for a table."""
    return timestamp[:16].replace("T", " ") if len(timestamp) >= 16 else timestamp


def _days_text(days: Optional[float]) -> str:
    if days is None:
        return ""
    if days < 1:
        return "in under a day"
    whole = round(days)
    return f"in {whole} day{_s(whole)}"


def _notes(report: AuditReport, delete_requested: bool) -> list[str]:
    counts = {
        EXPIRED: "expired",
        EXPIRING: f"expiring within {report.expiring_within_days:g} days",
        NEVER_USED: "never used",
        UNMANAGED: "not managed by the stack",
        ORPHAN: "orphan",
    }
    parts = []
    for finding, label in counts.items():
        n = len(report.with_findings(finding))
        if n:
            parts.append(f"{n} {label}" + ("s" if finding == ORPHAN and n != 1 else ""))
    notes = [f"Findings: {', '.join(parts)}." if parts else "Findings: none."]
    orphans = [k for k in report.orphans if not k.deleted]
    if orphans and not delete_requested:
        notes.append(
            f"Orphans are keys created by the stack's API token ({_creators(report)}), named like one of its "
            "keys, that its state does not hold. Delete them with --delete-orphans."
        )
    if report.stack_given and report.orphan_check:
        notes.append(f"Orphans were not looked for: {report.orphan_check}.")
    for gone in report.gone_deployments:
        notes.append(f"Deployment {gone} of the stack's keys no longer exists (Astro deleted its keys with it).")
    for missing in report.missing:
        notes.append(
            f"The state holds key {missing.name or '?'} ({missing.key_id}) on Deployment {missing.deployment_id}, "
            "which Astro no longer has; `pulumi refresh` drops it and `pulumi up` makes a new one."
        )
    return notes


def _creators(report: AuditReport) -> str:
    names = {k.key.created_by.id: k.key.created_by.display_name for k in report.keys if k.key.created_by}
    return ", ".join(
        f"{names[subject]} {subject}" if names.get(subject, subject) != subject else subject
        for subject in report.stack_creators
    )


def _deletion_lines(report: AuditReport) -> str:
    out = []
    for entry in report.orphans:
        key = entry.key
        if entry.deleted:
            out.append(f"Deleted orphan {key.name} ({key.key_id}) on Deployment {key.deployment_id}.\n")
        elif entry.delete_error:
            out.append(f"Could not delete orphan {key.name} ({key.key_id}): {entry.delete_error}\n")
    return "".join(out)


def _result_line(report: AuditReport) -> str:
    code = report.exit_code()
    reasons = []
    if code & EXIT_EXPIRING:
        reasons.append(f"a key has expired or expires within {report.expiring_within_days:g} days")
    if code & EXIT_ORPHANS:
        reasons.append("an orphan exists")
    return f"Exit status {code}: " + ("; ".join(reasons) if reasons else "nothing fails the audit") + "."


def _s(n: int) -> str:
    return "" if n == 1 else "s"
