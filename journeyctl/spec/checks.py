"""Semantic checks over a loaded project: pure functions (project) -> diagnostics (SPEC §4).

Structure and timing live here; expressions, templates and compliance have their own
modules. CHECKS lists them all, and `docs/diagnostics.md` documents every code.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from journeyctl.diagnostics import Diagnostic, error, warning
from journeyctl.spec.compliance import check_compliance
from journeyctl.spec.durations import Duration
from journeyctl.spec.envref import ENV_REF, SECRET_HEADER, SECRET_KEY
from journeyctl.spec.expression_checks import check_expressions
from journeyctl.spec.expressions import parse_expr
from journeyctl.spec.guard_checks import check_guards
from journeyctl.spec.models import (
    Branch,
    DateTrigger,
    EventTrigger,
    Exit,
    SendWindow,
    Split,
    Step,
    Wait,
    WaitFor,
    WaitUntil,
)
from journeyctl.spec.project import LoadedSequence, Project
from journeyctl.spec.template_checks import check_templates
from journeyctl.spec.timing_checks import check_flow_timing
from journeyctl.spec.tracking import check_tracking
from journeyctl.spec.unsubscribe import forgeable_link_warnings
from journeyctl.spec.walk import KeyPath, iter_sends, iter_step_lists, iter_steps
from journeyctl.spec.yamlsrc import SourceFile

Check = Callable[[Project], Iterator[Diagnostic]]

WELL_KNOWN_EVENTS = (
    "subscribed",
    "unsubscribed",
    "purchased",
    "cart_abandoned",
    "opened",
    "clicked",
    "bounced",
    "complained",
)


def check_unique_step_ids(project: Project) -> Iterator[Diagnostic]:
    for seq in project.sequences.values():
        for sid, path in seq.flow.duplicates:
            first = seq.flow.nodes[sid]
            line = seq.source.locate(first.path).line
            yield error(
                seq.source.locate(path),
                "duplicate-step-id",
                f"step id '{sid}' is already used at line {line}",
                "step ids must be unique within a sequence",
            )


def _settings_loaded(project: Project) -> bool:
    """journey.yaml loaded without errors: otherwise its defaults would cause false alarms."""
    src = project.settings_source
    return src is None or not any(d.is_error for d in src.diagnostics)


def check_channels(project: Project) -> Iterator[Diagnostic]:
    # (with a damaged journey.yaml, spec.cascade counts these under its error)
    channels = project.settings.channels
    for seq in project.sequences.values():
        for send, path in iter_sends(seq):
            if send.channel is not None and send.channel not in channels:
                close = difflib.get_close_matches(send.channel, channels, n=1)
                yield error(
                    seq.source.scalar_location((*path, "channel")),
                    "unknown-channel",
                    f"channel '{send.channel}' is not configured (channels: {', '.join(channels)})",
                    f"did you mean '{close[0]}'?"
                    if close
                    else "add it under `channels:` in journey.yaml",
                )


# --- reachability ----------------------------------------------------------------------------


def always_exits(steps: list[Step]) -> bool:
    """True when every path through `steps` ends at an `exit` (flow never continues after)."""
    return any(_step_always_exits(s) for s in steps)


def _step_always_exits(step: Step) -> bool:
    if isinstance(step, Exit):
        return True
    if isinstance(step, Branch):
        return always_exits(step.branch.then) and always_exits(step.branch.else_)
    if isinstance(step, Split):
        return all(always_exits(arm.steps) for arm in step.split.values())
    if isinstance(step, WaitFor):
        return always_exits(step.on_event) and always_exits(step.on_timeout)
    return False


def constant_truth(source: str) -> bool | None:
    """The value of an expression that is a literal (`true`, `false`, `1`), else None."""
    try:
        node = parse_expr(source)
    except TemplateSyntaxError:
        return None
    if isinstance(node, nodes.Const):
        return bool(node.value)
    return None


def check_unreachable(project: Project) -> Iterator[Diagnostic]:
    for seq in project.sequences.values():
        src = seq.source
        for steps, path in iter_step_lists(seq.model.steps):
            for i, step in enumerate(steps[:-1]):
                if _step_always_exits(step):
                    why = (
                        f"`exit: {step.exit}`"
                        if isinstance(step, Exit)
                        else "a step whose every path exits"
                    )
                    line = src.locate((*path, i)).line
                    yield error(
                        src.locate((*path, i + 1)),
                        "unreachable-step",
                        f"this step can never run: it comes after {why} at line {line}",
                        "remove it, or move the exit after it",
                    )
                    break
        for step, path in iter_steps(seq.model.steps):
            if not isinstance(step, Branch):
                continue
            truth = constant_truth(step.branch.if_)
            if truth is None:
                continue
            dead, key = (step.branch.else_, "else") if truth else (step.branch.then, "then")
            if dead:
                yield error(
                    src.locate((*path, "branch", key, 0)),
                    "unreachable-step",
                    f"this step can never run: the branch condition is always {str(truth).lower()}",
                    "make `if:` depend on the contact, or remove the dead list",
                )


# --- timing ----------------------------------------------------------------------------------


def _minutes(start: Any, end: Any) -> set[int]:
    """Minutes of the day in [start, end), wrapping past midnight."""
    a, b = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    if a <= b:
        return set(range(a, b))
    return set(range(a, 1440)) | set(range(0, b))


def _check_window(
    project: Project, seq: LoadedSequence, window: SendWindow, path: KeyPath
) -> Iterator[Diagnostic]:
    src = seq.source
    if window.start == window.end:
        yield error(
            src.locate((*path, "start")),
            "impossible-timing",
            f"send window starts and ends at {window.start:%H:%M}: it never opens",
            'give the window a length, e.g. {start: "09:00", end: "18:00"}',
        )
        return
    if not window.days:
        yield error(
            src.locate((*path, "days")),
            "impossible-timing",
            "send window has no days: it never opens",
            "list at least one weekday, or drop `days:` for every day",
        )
        return
    quiet = project.settings.quiet_hours
    if quiet is not None and seq.model.is_marketing:
        open_minutes = _minutes(window.start, window.end)
        if open_minutes and open_minutes <= _minutes(quiet.start, quiet.end):
            yield error(
                src.locate(path),
                "impossible-timing",
                f"send window {window.start:%H:%M}-{window.end:%H:%M} lies entirely inside quiet"
                f" hours {quiet.start:%H:%M}-{quiet.end:%H:%M}: marketing sends never go out",
                "move the window outside journey.yaml's quiet_hours",
            )


def check_timing(project: Project) -> Iterator[Diagnostic]:
    for seq in project.sequences.values():
        src, model = seq.source, seq.model
        if model.window is not None:
            yield from _check_window(project, seq, model.window, ("window",))
        for step, path in iter_steps(model.steps):
            window = getattr(step, "window", None)
            if isinstance(window, SendWindow):
                yield from _check_window(project, seq, window, (*path, "window"))
            if isinstance(step, Wait) and isinstance(step.wait, WaitUntil) and not step.wait.days:
                yield error(
                    src.locate((*path, "wait", "days")),
                    "impossible-timing",
                    f"wait until {step.wait.until:%H:%M} on no day: it never ends",
                    "list at least one weekday, or drop `days:` for every day",
                )


def longest_path(steps: list[Step]) -> Duration:
    """Nominal longest time through `steps` (waits and wait_for timeouts; waits-until as 1d)."""
    days = seconds = 0
    for step in steps:
        if isinstance(step, Wait):
            w = step.wait if isinstance(step.wait, Duration) else Duration(days=1)
            days, seconds = days + w.days, seconds + w.seconds
        elif isinstance(step, WaitFor):
            t = step.wait_for.timeout
            inner = max(
                (longest_path(step.on_event), longest_path(step.on_timeout)),
                key=lambda d: d.approx(),
            )
            days, seconds = days + t.days + inner.days, seconds + t.seconds + inner.seconds
        elif isinstance(step, Branch | Split):
            lists = (
                [step.branch.then, step.branch.else_]
                if isinstance(step, Branch)
                else [a.steps for a in step.split.values()]
            )
            inner = max((longest_path(s) for s in lists), key=lambda d: d.approx())
            days, seconds = days + inner.days, seconds + inner.seconds
        elif isinstance(step, Exit):
            break
    return Duration(days, seconds)


def check_trigger_and_events(project: Project) -> Iterator[Diagnostic]:
    from apscheduler.triggers.cron import CronTrigger

    fields = project.settings.contacts.fields
    for seq in project.sequences.values():
        src, model = seq.source, seq.model
        trig = model.trigger
        if not isinstance(trig, EventTrigger):
            try:
                CronTrigger.from_crontab(trig.check)
            except ValueError as exc:
                yield error(
                    src.scalar_location(("trigger", "check")),
                    "bad-cron",
                    f"'{trig.check}' is not a cron expression: {exc}",
                    'five fields: minute hour day month weekday, e.g. "0 9 * * *"',
                )
        if isinstance(trig, DateTrigger):
            name = trig.date.field
            kind = fields.get(name)
            if kind not in ("date", "datetime"):
                got = f"declared as {kind}" if kind else "not declared"
                yield error(
                    src.scalar_location(("trigger", "date", "field")),
                    "bad-date-field",
                    f"date trigger field '{name}' is {got} in journey.yaml",
                    f"declare it under contacts.fields as `{name}: date` (or datetime)",
                )
        events: list[tuple[str, KeyPath]] = [
            (e, ("exit_on", i)) for i, e in enumerate(model.exit_on)
        ]
        if model.goal is not None:
            events.append((model.goal.event, ("goal", "event")))
        if isinstance(trig, EventTrigger):
            events.append((trig.event, ("trigger", "event")))
        for step, path in iter_steps(model.steps):
            if isinstance(step, WaitFor):
                events.append((step.wait_for.event, (*path, "wait_for", "event")))
        for name, path in events:
            if name in WELL_KNOWN_EVENTS:
                continue
            close = difflib.get_close_matches(name, WELL_KNOWN_EVENTS, n=1, cutoff=0.75)
            if close or name != name.lower() or "-" in name or " " in name:
                hint = f"did you mean '{close[0]}'?" if close else "event names are snake_case"
                yield warning(
                    src.scalar_location(path),
                    "suspicious-event",
                    f"event '{name}' is not a well-known event and looks like a typo",
                    hint,
                )
        reentry = model.reentry
        if isinstance(reentry, Duration):
            length = longest_path(model.steps)
            if reentry.approx() < length.approx():
                yield warning(
                    src.scalar_location(("reentry",)),
                    "reentry-overlap",
                    f"reentry gap {reentry} is shorter than the sequence ({length}):"
                    " a contact may re-enter while still in it",
                    f"use a gap of at least {length}, or `reentry: never`",
                )


def check_splits(project: Project) -> Iterator[Diagnostic]:
    for seq in project.sequences.values():
        for step, path in iter_steps(seq.model.steps):
            if not isinstance(step, Split):
                continue
            for name, arm in step.split.items():
                if not arm.steps and name != "control":
                    yield warning(
                        seq.source.locate((*path, "split", name), at_key=True),
                        "empty-split-arm",
                        f"split arm '{name}' has no steps",
                        "name a holdout arm `control`, or give the arm steps",
                    )


# --- journey.yaml secrets --------------------------------------------------------------------


def _strings(data: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _strings(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _strings(v, (*path, i))
    elif isinstance(data, str):
        yield path, data


def check_secrets(project: Project) -> Iterator[Diagnostic]:
    src = project.settings_source
    if src is None or not isinstance(src.data, dict):
        return
    top = src.data.get("unsubscribe_secret")
    found = [*_strings(src.data.get("channels"), ("channels",))]
    if isinstance(top, str):
        found.append((("unsubscribe_secret",), top))
    for path, value in found:
        key = str(path[-1])
        yield from _check_env_syntax(src, path, value)
        is_secret = bool(SECRET_KEY.search(key)) or (
            len(path) >= 4 and path[-2] == "headers" and bool(SECRET_HEADER.search(key))
        )
        if is_secret and value and "${" not in value:
            yield warning(
                src.scalar_location(path),
                "literal-secret",
                f"'{key}' holds a literal value; secrets belong in the environment",
                f'write e.g. {key}: "${{{key.upper().replace("-", "_")}}}" and set that variable',
            )
    yield from forgeable_link_warnings(project)  # no-unsubscribe-secret


def _check_env_syntax(src: SourceFile, path: KeyPath, value: str) -> Iterator[Diagnostic]:
    rest = ENV_REF.sub("", value)
    if "${" in rest:
        bad = rest[rest.index("${") :]
        yield error(
            src.scalar_location(path),
            "bad-env-ref",
            f"malformed environment reference in {value!r} near {bad[:20]!r}",
            "write ${NAME}: a dollar, braces, and a name of letters, digits and _",
        )


# A channel's settings are read from the environment when the channel is built (SPEC §2), and
# the unsubscribe secrets when a run starts. These channel keys are not: the engine reads them
# as written, in simulate and preview too (the medium picks the scheduling rules; the
# unsubscribe URL is part of the message).
_CHANNEL_KEYS_AS_WRITTEN = ("type", "medium", "unsubscribe_url")


def _read_from_env(path: KeyPath) -> bool:
    if path == ("unsubscribe_secret",):
        return True
    return len(path) >= 3 and path[0] == "channels" and path[2] not in _CHANNEL_KEYS_AS_WRITTEN


def check_env_scope(project: Project) -> Iterator[Diagnostic]:
    """`${NAME}` where nothing reads the environment would be sent or used as written."""
    src = project.settings_source
    if src is None or not isinstance(src.data, dict) or not _settings_loaded(project):
        return  # (typed settings that hold one already failed to load, with a hint)
    for path, value in _strings(src.data):
        ref = ENV_REF.search(value)
        if ref is None or _read_from_env(path):
            continue
        yield error(
            src.scalar_location(path),
            "env-not-read",
            f"'{'.'.join(map(str, path))}' is not read from the environment: "
            f"{ref.group(0)} would be used as written",
            "`${NAME}` works in channel settings (not type, medium or unsubscribe_url) and "
            "unsubscribe_secret; write this value itself",
        )


CHECKS: list[Check] = [
    check_unique_step_ids,
    check_channels,
    check_unreachable,
    check_timing,
    check_flow_timing,
    check_trigger_and_events,
    check_splits,
    check_secrets,
    check_env_scope,
    check_expressions,
    check_templates,
    check_guards,
    check_compliance,
    check_tracking,
]


def run_checks(project: Project) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for check in CHECKS:
        out.extend(check(project))
    return out
