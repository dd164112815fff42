"""Compare two loaded projects sequence by sequence and say what changed in a reviewer's words.

Pure: both sides arrive loaded (models + template texts); `review.sides` does the reading.
Steps are matched by id (SPEC §5: the id is the identity); `migrate:` turns a remove + add
into a rename. Summaries use `code` spans so the same text reads in a terminal and on GitHub.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from journeyctl.review.steps import StepView, describe_offset, describe_step, step_views
from journeyctl.spec.manifest import ManifestSequence
from journeyctl.spec.models import Branch, Exit, Send, Split, WaitFor
from journeyctl.spec.project import Project

Status = Literal["added", "removed", "changed"]
# Values never printed in a diff (it may end up in a PR comment).
_SECRET_KEYS = ("password", "secret", "token", "api_key")


@dataclass(frozen=True)
class Change:
    kind: str  # stable code: step-added, step-removed, step-renamed, step-moved, timing, copy, ...
    summary: str  # one line; `code` spans
    detail: str | None = None  # a unified diff, when there is one
    step: str | None = None


@dataclass
class SequenceDiff:
    sequence: str
    status: Status
    old_version: str | None
    new_version: str | None
    changes: list[Change] = field(default_factory=list)


@dataclass
class ProjectDiff:
    base: str
    settings: list[Change] = field(default_factory=list)
    templates: list[Change] = field(default_factory=list)  # shared templates (layouts, partials)
    sequences: list[SequenceDiff] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.settings or self.templates or self.sequences)

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base, "changed": self.changed, **asdict(self)}


@dataclass
class Side:
    """One version of a project: the loaded models and every file under templates/."""

    project: Project
    templates: dict[str, str]  # path under templates/ -> text


def diff_projects(old: Side, new: Side, base: str = "") -> ProjectDiff:
    out = ProjectDiff(base=base, settings=_settings(old.project, new.project))
    users = _template_users(new) | _template_users(old)
    direct = _direct_templates(old) | _direct_templates(new)
    olds, news = old.project.manifest.sequences, new.project.manifest.sequences
    for sid in sorted(set(olds) | set(news)):
        a, b = olds.get(sid), news.get(sid)
        if a is None and b is not None:
            changes = [Change("sequence-added", _added_sequence(b))]
            changes += _new_templates(b, old, new)
            out.sequences.append(SequenceDiff(sid, "added", None, b.version, changes))
        elif b is None and a is not None:
            text = "sequence removed; its active enrollments exit with reason `sequence_removed`"
            out.sequences.append(
                SequenceDiff(sid, "removed", a.version, None, [Change("sequence-removed", text)])
            )
        elif a is not None and b is not None:
            # Shared layouts are reported once, under "shared templates", with their users.
            changes = _sequence_changes(a, b, old, new)
            if a.version != b.version and not changes:
                changes.append(Change("other", "formatting or ordering only (same behaviour)"))
            if changes:
                out.sequences.append(SequenceDiff(sid, "changed", a.version, b.version, changes))
    for name in sorted(set(old.templates) | set(new.templates)):
        if name in direct or old.templates.get(name) == new.templates.get(name):
            continue
        seqs = sorted(users.get(name, set()))
        used = ", ".join(f"`{s}`" for s in seqs) if seqs else "no sequence"
        change = _text_change(
            "template",
            f"template {name}",
            old.templates.get(name),
            new.templates.get(name),
            f"templates/{name}",
        )
        out.templates.append(
            Change(change.kind, f"{change.summary} — used by {used}", change.detail)
        )
    return out


# --- sequences -----------------------------------------------------------------------------


_PAUSED = "paused: no new entries; contacts in it hold their place until it is resumed"
_RESUMED = "resumed: entries open again; sends that came due while paused follow `late`"


def _added_sequence(seq: ManifestSequence) -> str:
    sends = sum(1 for step in seq.steps.values() if step.send is not None)
    paused = ", paused" if seq.model.paused else ""
    return f"new sequence ({_trigger(seq.model.trigger)}; {sends} message(s){paused})"


def _sequence_changes(
    a: ManifestSequence, b: ManifestSequence, old: Side, new: Side
) -> list[Change]:
    changes = _header_changes(a, b)
    va, vb = step_views(a), step_views(b)
    renames = {
        o: n
        for o, n in b.model.migrate.items()
        if o in va and o not in vb and n in vb and n not in va
    }
    renamed_to = {n: o for o, n in renames.items()}
    for sid, view in va.items():
        if sid in vb or sid in renames:
            continue
        target = b.model.migrate.get(sid)
        where = f" (was after `{view.after}`" if view.after else " (was the first step"
        where += f" in {view.context})" if view.context else ")"
        if target in vb:
            fate = f"contacts waiting at it move to `{target}` (migrate)"
        else:
            fate = "contacts waiting at it exit with reason `step_removed`"
        changes.append(Change("step-removed", f"step `{sid}` removed{where}; {fate}", step=sid))
    for sid, view in vb.items():
        if sid in va or sid in renamed_to:
            continue
        changes.append(Change("step-added", _added_line(view), step=sid))
    for old_id, new_id in renames.items():
        changes.append(
            Change(
                "step-renamed",
                f"step `{old_id}` renamed to `{new_id}`; contacts waiting at it move along (migrate)",
                step=new_id,
            )
        )
    changes += _moves(va, vb, renamed_to)
    for sid, view in vb.items():
        before = va.get(renamed_to.get(sid, sid))
        if before is not None:
            changes += _step_changes(before, view, old, new)
    for sid, view in vb.items():
        if sid not in va and sid not in renamed_to and isinstance(view.step, Send):
            changes += _fresh_template_changes(view, old, new)
    return _in_flow_order(changes, va, vb)


def _in_flow_order(
    changes: list[Change], va: dict[str, StepView], vb: dict[str, StepView]
) -> list[Change]:
    """Sequence-level changes first, then step changes in the order a contact meets them."""
    order = {sid: i for i, sid in enumerate(vb)}

    def key(c: Change) -> float:
        if c.step is None:
            return -1.0
        if c.step in order:
            return float(order[c.step])
        after = va[c.step].after if c.step in va else None  # a removed step: where it was
        return order.get(after, -1) + 0.5 if after else -0.5

    return sorted(changes, key=key)


def _added_line(view: StepView) -> str:
    place = f"after `{view.after}`" if view.after else "as the first step"
    if view.context:
        place += f" in {view.context}"
    facts = [f"wait {view.wait}"] if view.wait else []
    at = describe_offset(view.offset)
    if at and at != "at entry":
        facts.append(at)
    extra = f" ({'; '.join(facts)})" if facts else ""
    return f"step `{view.id}` added {place}{extra}: {describe_step(view)}"


def _moves(
    va: dict[str, StepView], vb: dict[str, StepView], renamed_to: dict[str, str]
) -> list[Change]:
    """Steps kept on both sides whose list, or order among the kept steps, changed."""
    out: list[Change] = []
    kept = [(s, renamed_to.get(s, s)) for s in vb if renamed_to.get(s, s) in va]
    for s, o in kept:
        if va[o].context != vb[s].context:
            was, now = va[o].context or "the top level", vb[s].context or "the top level"
            out.append(Change("step-moved", f"step `{s}` moved from {was} to {now}", step=s))
    for ctx in sorted({vb[s].context for s, _ in kept}):
        pairs = [(s, o) for s, o in kept if vb[s].context == ctx and va[o].context == ctx]
        new_order = [o for _, o in pairs]
        old_order = [o for o in va if o in set(new_order)]
        stable: set[str] = set()
        sm = difflib.SequenceMatcher(a=old_order, b=new_order, autojunk=False)
        for block in sm.get_matching_blocks():
            stable.update(new_order[block.b : block.b + block.size])
        for s, o in pairs:
            if o not in stable:
                now = f"after `{vb[s].after}`" if vb[s].after else "first"
                was = f"after `{va[o].after}`" if va[o].after else "first"
                out.append(Change("step-moved", f"step `{s}` moved: now {now} (was {was})", step=s))
    return out


def _step_changes(a: StepView, b: StepView, old: Side, new: Side) -> list[Change]:
    sid = b.id
    out: list[Change] = []
    if a.wait != b.wait:
        line = f"timing: wait before `{sid}` {a.wait or 'none'} → {b.wait or 'none'}"
        was, now = describe_offset(a.offset), describe_offset(b.offset)
        if was != now and now is not None and was is not None:
            line += f" (now {now}, was {was})"
        out.append(Change("timing", line, step=sid))
    if a.kind != b.kind:
        out.append(Change("step-kind", f"step `{sid}` changed from {a.kind} to {b.kind}", step=sid))
        return out
    sa, sb = a.step, b.step
    if isinstance(sa, Send) and isinstance(sb, Send):
        out += _send_changes(sid, sa, sb, old, new)
    elif isinstance(sa, Branch) and isinstance(sb, Branch) and sa.branch.if_ != sb.branch.if_:
        out.append(
            Change(
                "condition",
                f"condition of `{sid}`: `{sa.branch.if_}` → `{sb.branch.if_}`",
                step=sid,
            )
        )
    elif isinstance(sa, Split) and isinstance(sb, Split):
        out += _split_changes(sid, sa, sb)
    elif isinstance(sa, WaitFor) and isinstance(sb, WaitFor):
        wa, wb = sa.wait_for, sb.wait_for
        if wa.event != wb.event:
            out.append(
                Change("wait-for", f"`{sid}` waits for `{wb.event}` (was `{wa.event}`)", step=sid)
            )
        if wa.timeout != wb.timeout:
            out.append(
                Change(
                    "timing", f"timing: timeout of `{sid}` {wa.timeout} → {wb.timeout}", step=sid
                )
            )
        if wa.where != wb.where:
            out.append(
                Change("condition", f"condition of `{sid}`: `{wa.where}` → `{wb.where}`", step=sid)
            )
    elif isinstance(sa, Exit) and isinstance(sb, Exit) and sa.exit != sb.exit:
        out.append(Change("exit", f"exit reason of `{sid}`: `{sa.exit}` → `{sb.exit}`", step=sid))
    return out


def _send_changes(sid: str, a: Send, b: Send, old: Side, new: Side) -> list[Change]:
    out: list[Change] = []
    if a.channel != b.channel:
        out.append(
            Change(
                "channel",
                f"channel of `{sid}`: {a.channel or 'default'} → {b.channel or 'default'}",
                step=sid,
            )
        )
    if a.subject != b.subject:
        out.append(
            Change(
                "copy", f"subject of `{sid}`: {_quote(a.subject)} → {_quote(b.subject)}", step=sid
            )
        )
    if a.body != b.body:
        out.append(
            _text_change("copy", f"body of `{sid}`", a.body, b.body, f"{sid}.body", step=sid)
        )
    for attr in ("template", "text_template"):
        ta, tb = getattr(a, attr), getattr(b, attr)
        label = attr.replace("_", " ")
        if ta != tb:
            out.append(
                Change("copy", f"{label} of `{sid}`: {ta or 'none'} → {tb or 'none'}", step=sid)
            )
        if tb is not None:
            before = old.templates.get(ta) if ta is not None else None
            after = new.templates.get(tb)
            if before != after and (ta is not None or after is not None):
                out.append(
                    _text_change(
                        "template",
                        f"template {tb} (`{sid}`)",
                        before,
                        after,
                        f"templates/{tb}",
                        step=sid,
                    )
                )
    if a.window != b.window:
        out.append(
            Change(
                "window",
                f"send window of `{sid}`: {_window(a.window)} → {_window(b.window)}",
                step=sid,
            )
        )
    if a.on_cap != b.on_cap:
        out.append(
            Change(
                "policy",
                f"on_cap of `{sid}`: {a.on_cap or 'inherit'} → {b.on_cap or 'inherit'}",
                step=sid,
            )
        )
    return out


def _fresh_template_changes(view: StepView, old: Side, new: Side) -> list[Change]:
    step = view.step
    assert isinstance(step, Send)
    out = []
    for name in (step.template, step.text_template):
        if name is not None and old.templates.get(name) != new.templates.get(name):
            out.append(
                _text_change(
                    "template",
                    f"template {name} (`{view.id}`)",
                    old.templates.get(name),
                    new.templates.get(name),
                    f"templates/{name}",
                    step=view.id,
                )
            )
    return out


def _new_templates(seq: ManifestSequence, old: Side, new: Side) -> list[Change]:
    out: list[Change] = []
    for view in step_views(seq).values():
        if isinstance(view.step, Send):
            out += _fresh_template_changes(view, old, new)
    return out


def _split_changes(sid: str, a: Split, b: Split) -> list[Change]:
    out = []
    for arm in b.split:
        if arm not in a.split:
            out.append(
                Change(
                    "split",
                    f"split `{sid}`: arm `{arm}` added (weight {_num(b.split[arm].weight)})",
                    step=sid,
                )
            )
        elif a.split[arm].weight != b.split[arm].weight:
            out.append(
                Change(
                    "split",
                    f"split `{sid}`: weight of arm `{arm}` {_num(a.split[arm].weight)} → {_num(b.split[arm].weight)}",
                    step=sid,
                )
            )
    for arm in a.split:
        if arm not in b.split:
            out.append(Change("split", f"split `{sid}`: arm `{arm}` removed", step=sid))
    if out:
        out.append(
            Change(
                "split",
                f"split `{sid}`: contacts already past the split keep their arm; new entrants are drawn with the new weights",
                step=sid,
            )
        )
    return out


# --- sequence header: trigger, audience, goal, policy ------------------------------------------


def _header_changes(a: ManifestSequence, b: ManifestSequence) -> list[Change]:
    ma, mb = a.model, b.model
    out: list[Change] = []
    if ma.trigger != mb.trigger:
        out.append(Change("trigger", f"trigger: {_trigger(ma.trigger)} → {_trigger(mb.trigger)}"))
    if ma.audience != mb.audience:
        out.append(
            Change(
                "audience",
                f"audience: {_code(ma.audience, 'everyone')} → {_code(mb.audience, 'everyone')}",
            )
        )
    if ma.goal != mb.goal:
        out.append(Change("goal", f"goal: {_goal(ma.goal)} → {_goal(mb.goal)}"))
    added = [e for e in mb.exit_on if e not in ma.exit_on]
    removed = [e for e in ma.exit_on if e not in mb.exit_on]
    if added or removed:
        parts = [f"now also exits on {_codes(added)}"] if added else []
        parts += [f"no longer exits on {_codes(removed)}"] if removed else []
        out.append(Change("exit_on", "exit_on: " + "; ".join(parts)))
    if ma.paused != mb.paused:
        out.append(Change("paused", _PAUSED if mb.paused else _RESUMED))
    if ma.reentry != mb.reentry:
        out.append(Change("reentry", f"reentry: {ma.reentry} → {mb.reentry}"))
    if ma.ad != mb.ad:
        note = (
            "advertising rules (ad label, night consent) now apply"
            if mb.ad
            else "no longer treated as advertising"
        )
        out.append(Change("ad", f"ad: {_yes(ma.ad)} → {_yes(mb.ad)} ({note})"))
    if ma.transactional != mb.transactional:
        note = (
            "skips quiet hours and the frequency cap"
            if mb.transactional
            else "quiet hours and the frequency cap now apply"
        )
        out.append(
            Change(
                "policy",
                f"transactional: {_yes(ma.transactional)} → {_yes(mb.transactional)} ({note})",
            )
        )
    for key in ("late", "window", "on_cap", "description"):
        va, vb = getattr(ma, key), getattr(mb, key)
        if va != vb:
            out.append(
                Change(
                    "policy" if key != "description" else "description",
                    f"{key}: {_show(_dump(va))} → {_show(_dump(vb))}",
                )
            )
    return out


def _trigger(trig: Any) -> str:
    if hasattr(trig, "event"):
        text = f"on event `{trig.event}`"
        return text + (f" where `{trig.where}`" if trig.where else "")
    if hasattr(trig, "segment"):
        return f"segment `{trig.segment}` checked `{trig.check}`"
    d = trig.date
    text = f"date `{d.field}` every {d.every} at {d.at.strftime('%H:%M')}"
    return text + (f" offset {d.offset}" if not d.offset.is_zero else "")


def _goal(goal: Any) -> str:
    if goal is None:
        return "none"
    return f"`{goal.event}`" + (f" within {goal.within}" if goal.within else "")


# --- journey.yaml ----------------------------------------------------------------------------


def _settings(old: Project, new: Project) -> list[Change]:
    a = old.settings.model_dump(mode="json", by_alias=True)
    b = new.settings.model_dump(mode="json", by_alias=True)
    out: list[Change] = []
    for key in b:
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        if isinstance(va, dict) and isinstance(vb, dict) and key in ("channels", "contacts"):
            out += _dict_changes(key, va, vb)
        else:
            out.append(Change("policy", f"{key}: {_show(va, key)} → {_show(vb, key)}"))
    return out


def _dict_changes(prefix: str, a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if va == vb:
            continue
        name = f"{prefix}.{k}"
        if va is None:
            out.append(Change("policy", f"{name} added: {_show(vb, k)}"))
        elif vb is None:
            out.append(Change("policy", f"{name} removed"))
        elif isinstance(va, dict) and isinstance(vb, dict):
            out += _dict_changes(name, va, vb)
        else:
            out.append(Change("policy", f"{name}: {_show(va, k)} → {_show(vb, k)}"))
    return out


# --- templates -------------------------------------------------------------------------------

_REF = re.compile(r"""{%-?\s*(?:extends|include|import|from)\s+["']([^"']+)["']""")


def _direct_templates(side: Side) -> set[str]:
    names: set[str] = set()
    for seq in side.project.manifest.sequences.values():
        for view in step_views(seq).values():
            if isinstance(view.step, Send):
                names |= {n for n in (view.step.template, view.step.text_template) if n}
    return names


def _template_users(side: Side) -> dict[str, set[str]]:
    """template name -> ids of sequences that use it, directly or through extends/include."""
    refs = {name: set(_REF.findall(text)) for name, text in side.templates.items()}
    users: dict[str, set[str]] = {}
    for seq in side.project.manifest.sequences.values():
        todo = [
            n
            for v in step_views(seq).values()
            if isinstance(v.step, Send)
            for n in (v.step.template, v.step.text_template)
            if n
        ]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            users.setdefault(name, set()).add(seq.id)
            todo.extend(refs.get(name, ()))
    return users


def _text_change(
    kind: str, label: str, before: str | None, after: str | None, name: str, step: str | None = None
) -> Change:
    if before is None and after is not None:
        n = len(after.splitlines())
        return Change(kind, f"{label}: new file, {n} line(s)", _unified(None, after, name), step)
    if after is None:
        return Change(kind, f"{label}: removed", _unified(before, None, name), step)
    n = changed_lines(before or "", after)
    return Change(kind, f"{label}: {n} line(s) changed", _unified(before, after, name), step)


def changed_lines(before: str, after: str) -> int:
    """Lines changed as a reviewer counts them: an edited line is one, not one out + one in."""
    sm = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal")


def _unified(before: str | None, after: str | None, name: str) -> str:
    a = (before or "").splitlines(keepends=True)
    b = (after or "").splitlines(keepends=True)
    lines = difflib.unified_diff(
        a, b, fromfile=f"a/{name}" if before is not None else "/dev/null",
        tofile=f"b/{name}" if after is not None else "/dev/null",
    )  # fmt: skip
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# --- words -----------------------------------------------------------------------------------


def _dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    return value


def _show(value: Any, key: str = "") -> str:
    """A compact, YAML-flow-like rendering; secrets are never shown."""
    if any(s in key.lower() for s in _SECRET_KEYS) and value is not None:
        return "(hidden)"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return _yes(value)
    if isinstance(value, str):
        return re.sub(r"^(\d\d:\d\d):00$", r"\1", value)
    if isinstance(value, dict):
        if set(value) == {"start", "end"}:
            return f"{_show(value['start'])}–{_show(value['end'])}"
        if set(value) == {"max", "per"}:
            return f"{value['max']} per {value['per']}"
        return "{" + ", ".join(f"{k}: {_show(v, k)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _window(w: Any) -> str:
    return "none" if w is None else _show(_dump(w))


def _quote(text: str | None) -> str:
    return "none" if text is None else "'" + text.replace("\n", " ") + "'"


def _code(text: str | None, empty: str) -> str:
    return empty if text is None else f"`{text}`"


def _codes(items: list[str]) -> str:
    return ", ".join(f"`{x}`" for x in items)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
