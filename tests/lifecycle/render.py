"""A small plan printer, in the spirit of ``pulumi preview``/``pulumi up`` output."""

from __future__ import annotations

from typing import Any

from .props import mask
from .results import OperationResult

_SYMBOLS = {
    "create": "+ ",
    "update": "~ ",
    "replace": "+-",
    "delete": "- ",
    "delete-replaced": "- ",
    "discard": "- ",
    "read": "> ",
    "same": "  ",
}


def _format_value(value: Any) -> str:
    shown = mask(value)
    return shown if isinstance(shown, str) else repr(shown)


def render(result: OperationResult, show_same: bool = True) -> str:
    """Text for ``result``: one line per step (symbol, op, type, name, reasons), then outputs."""
    steps = [s for s in result.steps if show_same or s.op != "same"]
    type_width = max((len(s.type) for s in steps), default=4)
    name_width = max((len(s.name) for s in steps), default=4)
    lines = [f"{result.operation}:"]
    for s in steps:
        line = f" {_SYMBOLS.get(s.op, '  ')} {s.op:<15} {s.type:<{type_width}}  {s.name:<{name_width}}"
        notes = []
        if s.replaces:
            notes.append("replaces: " + ", ".join(s.replaces))
        if s.op == "replace" and s.delete_before_replace:
            notes.append("delete-before-replace")
        if s.provider_delete_skipped:
            notes.append("left in place (not deleted by the provider)")
        if s.error:
            notes.append(f"error: {s.error.splitlines()[0]}")
        if notes:
            line += "  [" + "; ".join(notes) + "]"
        lines.append(line.rstrip())
    if result.outputs:
        lines.append("Outputs:")
        width = max(len(k) for k in result.outputs)
        for key in sorted(result.outputs):
            lines.append(f"    {key:<{width}}: {_format_value(result.outputs[key])}")
    counts = result.counts()
    if counts:
        lines.append("Resources:")
        for op in ("create", "update", "replace", "delete", "same"):
            if counts.get(op):
                lines.append(f"    {_SYMBOLS[op].strip() or ' '} {counts[op]} {op}")
    if result.errors:
        lines.append("Errors:")
        lines.extend(f"    {e}" for e in result.errors)
    return "\n".join(lines)
