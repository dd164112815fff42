"""Root causes first, their consequences counted (issue 17, "errors that teach").

An error in journey.yaml is a root: the sequences and templates are checked against the
settings it leaves (spec.salvage), and a diagnostic whose check reads a top-level key the
error damaged is a consequence of it. Consequences are not shown: the root's message ends
"(and 65 errors that follow from it)". journey.yaml's own diagnostics come first, then the
rest in file order.
"""

from __future__ import annotations

from dataclasses import replace

from journeyctl.diagnostics import Diagnostic, sort_key
from journeyctl.spec.project import Project

# The top-level journey.yaml keys each check's result depends on.
_COMPLIANCE = frozenset({"compliance", "sender", "channels", "unsubscribe_url", "contacts"})
_EVENTS = frozenset({"events"})
READS: dict[str, frozenset[str]] = {
    "undeclared-field": frozenset({"contacts"}),
    "bad-date-field": frozenset({"contacts"}),
    "empty-personalisation": frozenset({"contacts"}),
    "unknown-channel": frozenset({"channels"}),
    "html-on-text-channel": frozenset({"channels"}),
    "missing-subject": frozenset({"channels"}),
    "impossible-timing": frozenset({"quiet_hours"}),  # only its quiet-hours form: _reads
    "no-unsubscribe-secret": frozenset({"unsubscribe_secret", "channels", "unsubscribe_url"}),
    **dict.fromkeys(("kr-ad-label", "kr-unsubscribe", "kr-opt-out", "kr-sender"), _COMPLIANCE),
    **dict.fromkeys(("us-address", "us-unsubscribe", "eu-unsubscribe", "eu-consent"), _COMPLIANCE),
}


def _reads(d: Diagnostic) -> frozenset[str] | None:
    if d.code == "impossible-timing" and "quiet hours" not in d.message:
        return None  # windows, waits and goals: the sequence's own timing
    if d.code == "undeclared-variable" and " of event " in d.message:
        return _EVENTS  # an event's properties are declared under events.fields
    return READS.get(d.code)


def _follows(d: Diagnostic, damaged: frozenset[str]) -> bool:
    reads = _reads(d)
    if reads is None:
        return False
    return "*" in damaged or bool(reads & damaged)


def _counted(n_errors: int, n_warnings: int) -> str:
    parts = []
    if n_errors:
        parts.append(f"{n_errors} error{'s' if n_errors != 1 else ''}")
    if n_warnings:
        parts.append(f"{n_warnings} warning{'s' if n_warnings != 1 else ''}")
    verb = "follows" if n_errors + n_warnings == 1 else "follow"
    return f"(and {' and '.join(parts)} that {verb} from it)"


def roots_first(project: Project, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """`diagnostics` with the consequences of journey.yaml's errors folded into them, and
    journey.yaml's own first."""
    src = project.settings_source
    roots = list(src.diagnostics) if src is not None else []
    root_ids = {id(d) for d in roots}
    causes = [(loc, damaged) for loc, damaged in project.settings_damage if damaged]
    counts: dict[object, list[int]] = {}
    shown: list[Diagnostic] = []
    for d in diagnostics:
        if id(d) not in root_ids:
            cause = next((loc for loc, damaged in causes if _follows(d, damaged)), None)
            if cause is not None:
                tally = counts.setdefault(cause, [0, 0])
                tally[0 if d.is_error else 1] += 1
                continue
        shown.append(d)
    out: list[Diagnostic] = []
    for d in shown:
        tally = counts.pop(d.location, []) if id(d) in root_ids and d.is_error else []
        out.append(replace(d, message=f"{d.message} {_counted(*tally)}") if tally else d)
    here = src.path if src is not None else None
    return sorted(out, key=lambda d: (d.location.path != here, *sort_key(d)))
