"""The audit report for a terminal: one table per Deployment, then notes, then the exit status.

What Astro stores (key names, creators' names, a marker's resource name) is anyone's to
write who may create a key, so every such text is shown with what is not printable
escaped (``\\n``, ``\\x1b``): a name cannot forge a table line or hide a row with terminal
codes. ``--json`` prints the exact values instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from .audit import (
    EXIT_EXPIRING,
    EXIT_IN_FLIGHT,
    EXIT_ORPHANS,
    EXPIRED,
    EXPIRING,
    IN_FLIGHT,
    LOOKED_UP,
    NEVER_USED,
    ORPHAN,
    SUSPECT,
    UNMANAGED,
    AuditReport,
    KeyAudit,
)

__all__ = ["deletion_lines", "printable", "render_table", "result_line"]

_COLUMNS = ("NAME", "KEY ID", "MANAGED", "CREATED BY", "CREATED", "EXPIRES", "LAST USED", "FINDINGS")


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped, as Python writes it in a string."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def render_table(report: AuditReport, *, delete_requested: bool = False) -> str:
    """The report for a terminal: one table per Deployment, then notes. Times are UTC."""
    n_keys, n_deps = len(report.keys), len(report.deployment_ids)
    lines = [
        f"{n_keys} Deployment API key{_s(n_keys)} on {n_deps} Deployment{_s(n_deps)} of organization "
        f"{report.organization_id}, at {report.audited_at} (times in UTC)",
    ]
    rows = {entry.key.key_id: _row(entry) for entry in report.keys}
    widths = [max([len(c), *(len(r[i]) for r in rows.values())]) for i, c in enumerate(_COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    if not report.deployment_ids:
        lines += ["", "No Deployment to audit: the state holds no key (after `pulumi destroy`, say)."]
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
    creator = printable(key.created_by.display_name) if key.created_by is not None else "-"
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
    return [printable(key.name), key.key_id, managed, creator, _short(key.created_at), expires, last_used, findings]


def _short(timestamp: str) -> str:
    """``2026-11-29T00:13:30Z`` as ``2026-11-29 00:13``: enough for a person, narrower for a table."""
    return timestamp[:16].replace("T", " ") if len(timestamp) >= 16 else printable(timestamp)


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
        LOOKED_UP: "looked up by the stack",
        ORPHAN: "orphan",
        IN_FLIGHT: "in flight",
        SUSPECT: "suspect",
    }
    parts = []
    for finding, label in counts.items():
        n = len(report.with_findings(finding))
        if n:
            parts.append(f"{n} {label}" + ("s" if finding in (ORPHAN, SUSPECT) and n != 1 else ""))
    if not report.keys:
        notes = ["Findings: none: there is no Deployment API key here."]
    else:
        notes = [f"Findings: {', '.join(parts)}." if parts else "Findings: none."]
    orphans = [k for k in report.orphans if not k.deleted]
    if orphans and not delete_requested:
        notes.append(
            "Orphans are keys whose description is still the create marker of the stack's own create, "
            "abandoned for good on Astro's clock: nobody ever received their secret. Delete them with "
            "--delete-orphans."
        )
    for entry in report.with_findings(IN_FLIGHT):
        notes.append(f"In flight: {_who(entry)}: {printable(entry.reason)}.")
    for entry in report.with_findings(SUSPECT):
        key = entry.key
        notes.append(
            f"Suspect: {_who(entry)}: {printable(entry.reason)}. It may be what an interrupted `pulumi up` made, or "
            "another stack's key of the same name: nothing proves which, so it is left to you. If you know it is "
            f"the stack's and nobody uses it: astrokeys delete-key {key.key_id} --deployment {key.deployment_id} "
            f"--name {_shell_word(key.name)}"
        )
    if report.stack_given and report.orphan_check:
        notes.append(f"Orphans were not looked for: {report.orphan_check}.")
    for gone in report.gone_deployments:
        notes.append(f"Deployment {gone} of the stack's keys no longer exists (Astro deleted its keys with it).")
    for missing in report.missing:
        notes.append(
            f"The state holds key {printable(missing.name or '?')} ({missing.key_id}) on Deployment "
            f"{missing.deployment_id}, which Astro no longer has: the export may be older than the stack (export it "
            "again), or the key was deleted outside Pulumi (`pulumi refresh` drops it and `pulumi up` makes a new one)."
        )
    return notes


def _who(entry: KeyAudit) -> str:
    return f"{printable(entry.key.name)} ({entry.key.key_id}) on Deployment {entry.key.deployment_id}"


def _shell_word(text: str) -> str:
    """``text`` quoted for a POSIX shell, its unprintable characters escaped (so not runnable as is)."""
    shown = printable(text)
    if shown and all(c.isalnum() or c in "-_.:/@" for c in shown):
        return shown
    return "'" + shown.replace("'", "'\\''") + "'"


def deletion_lines(report: AuditReport) -> str:
    """One line per orphan ``--delete-orphans`` deleted or could not delete."""
    out = []
    for entry in report.orphans:
        key = entry.key
        if entry.deleted:
            out.append(f"Deleted orphan {printable(key.name)} ({key.key_id}) on Deployment {key.deployment_id}.\n")
        elif entry.delete_error:
            out.append(f"Could not delete orphan {printable(key.name)} ({key.key_id}): {entry.delete_error}\n")
    return "".join(out)


def result_line(report: AuditReport) -> str:
    """``Exit status N: why.``"""
    code = report.exit_code()
    reasons = []
    if code & EXIT_EXPIRING:
        reasons.append(f"a key has expired or expires within {report.expiring_within_days:g} days")
    if code & EXIT_ORPHANS:
        reasons.append("an orphan or a suspect is left")
    if code & EXIT_IN_FLIGHT:
        reasons.append("a create of the stack may still be under way")
    return f"Exit status {code}: " + ("; ".join(reasons) if reasons else "nothing fails the audit") + "."


def _s(n: int) -> str:
    return "" if n == 1 else "s"
