"""Load a project directory or single sequence files into models, collecting every problem.

Pipeline per file (STYLE §4.3): decode -> strict YAML nodes -> duplicate keys -> pydantic ->
located diagnostics. Semantic checks run afterwards in `spec.checks` on what loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from journeyctl.diagnostics import Diagnostic, Location, error, warning
from journeyctl.spec.durations import DURATION_HINT
from journeyctl.spec.envref import ENV_REF
from journeyctl.spec.files import PROJECT_FILE, is_sequence_name
from journeyctl.spec.flow import build_flow
from journeyctl.spec.keys import allowed_keys, did_you_mean, mapping_path, unknown_key_hint
from journeyctl.spec.models import ProjectSettings, Sequence
from journeyctl.spec.project import LoadedSequence, Project
from journeyctl.spec.salvage import ALL, Damage, salvage_sequence, salvage_settings
from journeyctl.spec.schema import Kind
from journeyctl.spec.yamlsrc import SourceFile, leaves, parse_file, symlink_outside

_HINTS = {
    "unknown-key": "check the spelling; `journeyctl schema` lists every key",
    "bad-duration": DURATION_HINT,
    "unknown-step": "write e.g. `- send: hello`, `- wait: 2d` or `- exit: done`",
    "bad-trigger": "write e.g. `trigger: {event: subscribed}`",
}


def is_sequence_file(path: Path) -> bool:
    return is_sequence_name(path.name)


def sequence_files(root: Path) -> list[Path]:
    """Sequence files of a project: top-level *.yaml except journey.yaml."""
    return sorted(p for p in root.iterdir() if p.is_file() and is_sequence_file(p))


def _display(path: Path, base: Path | None) -> Path:
    if base is not None:
        try:
            return path.relative_to(base)
        except ValueError:
            pass
    return path


def validation_diagnostics(
    src: SourceFile, exc: ValidationError, data: Any = None, kind: Kind | None = None
) -> list[Diagnostic]:
    """Pydantic's errors, located. With the validated `data` and its schema `kind`, an unknown
    key is located at the key itself and its hint names the keys of its own mapping."""
    out: list[Diagnostic] = []
    errors = exc.errors(include_url=False)
    # `timout: 2d` is unknown and `timeout` then missing: one mistake, reported once (at the
    # unknown key, which says what it was meant to be).
    meant: dict[tuple[Any, ...], int] = {}  # (mapping path, key meant) -> unknown-key's index
    followers: dict[int, int] = {}  # unknown-key's index -> missing keys it explains
    unknown_at: dict[int, int] = {}  # position in `out` -> index in `errors`
    if data is not None and kind is not None:
        for i, err in enumerate(errors):
            loc = tuple(err["loc"])
            if err["type"] == "extra_forbidden" and loc:
                holder = mapping_path(data, loc)
                close = did_you_mean(str(loc[-1]), allowed_keys(kind, data, holder))
                if close is not None:
                    meant[(*holder, close)] = i
    for i, err in enumerate(errors):
        loc = tuple(err["loc"])
        etype = err["type"]
        msg = err["msg"]
        if etype == "missing" and data is not None and loc:
            cause = meant.get((*mapping_path(data, loc), loc[-1]))
            if cause is not None:
                followers[cause] = followers.get(cause, 0) + 1
                continue
        if etype == "extra_forbidden":
            key = loc[-1] if loc else "?"
            at, key_hint = src.locate(loc, at_key=True), _HINTS["unknown-key"]
            if data is not None and loc:
                holder = mapping_path(data, loc)
                at = src.locate((*holder, key), at_key=True)
                if kind is not None:
                    key_hint = unknown_key_hint(str(key), allowed_keys(kind, data, holder))
            unknown_at[len(out)] = i
            out.append(error(at, "unknown-key", f"unknown key '{key}'", key_hint))
            continue
        if etype == "missing":
            where = _parent_path(loc)
            out.append(
                error(
                    src.locate(loc[:-1]), "missing-key", f"missing required key '{loc[-1]}'" + where
                )
            )
            continue
        code = {
            "bad-duration": "bad-duration",
            "unknown-step": "unknown-step",
            "bad-trigger": "bad-trigger",
            "literal_error": "bad-value",
            "union_tag_invalid": "bad-value",
        }.get(etype, "bad-value")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        value = err.get("input")
        if etype == "union_tag_invalid":
            ctx = err.get("ctx") or {}
            tags = ", ".join(t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(","))
            disc = str(ctx.get("discriminator", "type")).strip("'")
            msg = f"{disc} {ctx.get('tag')!r} is not one of: {tags}"
        if etype == "string_pattern_mismatch" and loc and loc[-1] != "rate":
            msg = "an id uses only letters, digits, _ . - and starts with a letter or digit"
        if code == "bad-value" and not any(isinstance(p, str) for p in loc):
            pass  # a whole-model rule: its message says it all
        elif code == "bad-value" and etype not in ("literal_error",) and _is_scalar(value):
            msg = f"{_key_of(loc)}: {msg} (got {value!r})"
        elif code == "bad-value":
            msg = f"{_key_of(loc)}: {msg}"
        hint = _HINTS.get(code)
        if etype in ("bool_type", "bool_parsing"):
            hint = "write true or false (yes/no/on/off are not booleans here)"
        if etype == "env_ref_not_whole":
            key = _key_of(loc)
            hint = f'write {key}: "${{{key.upper()}}}" and put the whole value in that variable'
        elif isinstance(value, str) and ENV_REF.search(value):
            hint = (
                "`${NAME}` works in journey.yaml channel settings (not type, medium or "
                "unsubscribe_url) and unsubscribe_secret; write this value itself"
            )
        out.append(error(src.locate(loc), code, msg, hint))
    for pos, index in unknown_at.items():
        n = followers.get(index, 0)
        if n:
            said = "1 error that follows" if n == 1 else f"{n} errors that follow"
            out[pos] = replace(out[pos], message=f"{out[pos].message} (and {said} from it)")
    return _dedupe(out)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for d in diags:
        key = (d.location, d.code, d.message)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _is_scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool)


def _key_of(loc: tuple[Any, ...]) -> str:
    keys = [str(p) for p in loc if isinstance(p, str) and p not in ("function-after",)]
    return keys[-1] if keys else "value"


def _parent_path(loc: tuple[Any, ...]) -> str:
    parents = [str(p) for p in loc[:-1] if isinstance(p, str)]
    return f" in '{parents[-1]}'" if parents else ""


def load_settings(
    root: Path, base: Path | None = None
) -> tuple[ProjectSettings, SourceFile | None]:
    settings, src, _ = load_settings_salvaged(root, base)
    return settings, src


def load_settings_salvaged(
    root: Path, base: Path | None = None
) -> tuple[ProjectSettings, SourceFile | None, Damage]:
    """journey.yaml's settings, and what of them could not be used: for each error of the
    file, the top-level keys it damaged (`ALL`: any). The settings are salvaged: a key that
    failed is left out (its default used), so the sequences are checked against the rest in
    the same round, and what depends on a damaged key is counted, not shown (spec.cascade)."""
    path = root / PROJECT_FILE
    if not path.exists() and not path.is_symlink():
        return ProjectSettings(), None, []
    if leaves(root, path):
        src = SourceFile(path=_display(path, base), text="")
        src.diagnostics.append(symlink_outside(src.path, PROJECT_FILE))
        return ProjectSettings(), src, _all_damaged(src)
    src = parse_file(path, _display(path, base))
    data = src.data if src.data is not None else {}
    if not isinstance(data, dict):
        src.diagnostics.append(error(src.locate(()), "bad-value", "journey.yaml must be a mapping"))
        return ProjectSettings(), src, _all_damaged(src)
    if src.diagnostics:  # the YAML itself is in doubt (syntax, duplicate keys, limits)
        return ProjectSettings(), src, _all_damaged(src)
    try:
        return ProjectSettings.model_validate(data), src, []
    except ValidationError as exc:
        src.diagnostics.extend(validation_diagnostics(src, exc, data, "journey"))
        settings, damage = salvage_settings(data, exc)
        return settings, src, [(d.location, damage) for d in src.diagnostics if d.is_error]


def _all_damaged(src: SourceFile) -> Damage:
    return [(d.location, ALL) for d in src.diagnostics if d.is_error]


def load_sequence(
    path: Path,
    base: Path | None = None,
    settings: ProjectSettings | None = None,
    *,
    salvage: bool = False,
) -> tuple[LoadedSequence | None, SourceFile]:
    """`settings`: the project's (journey.yaml), which resolve each send's channel.

    `salvage` (validate): a sequence whose only errors are unknown keys is still loaded, each
    key read as the one it most likely meant (spec.salvage), so its other mistakes are found in
    the same round; its errors stay in the diagnostics."""
    src = parse_file(path, _display(path, base))
    if src.data is None:
        if not src.diagnostics:
            src.diagnostics.append(
                error(
                    Location(src.path, 1, 1),
                    "empty-file",
                    "the file is empty",
                    "write a sequence or delete the file",
                )
            )
        return None, src
    if not isinstance(src.data, dict):
        src.diagnostics.append(
            error(src.locate(()), "bad-value", "a sequence file must be a mapping")
        )
        return None, src
    data = dict(src.data)
    if "sequence" in data and data["sequence"] in (None, ""):
        src.diagnostics.append(
            error(
                src.locate(("sequence",)),
                "bad-value",
                "sequence: the id is empty",
                f"write an id, or leave the key out to use the file name ('{path.stem}')",
            )
        )
        return None, src
    data.setdefault("sequence", path.stem)
    model: Sequence | None
    try:
        model = Sequence.model_validate(data)
    except ValidationError as exc:
        src.diagnostics.extend(validation_diagnostics(src, exc, data, "sequence"))
        model = salvage_sequence(data, exc) if salvage else None
        if model is None:
            return None, src
    return LoadedSequence(model=model, source=src, flow=build_flow(model, settings)), src


def load_project(
    root: Path,
    *,
    only: Iterable[Path] | None = None,
    base: Path | None = None,
    salvage: bool = False,
) -> Project:
    """Load a project directory; `only` restricts to given sequence files (validate FILE...);
    `salvage`: see load_sequence (validate only: a salvaged project has errors)."""
    settings, settings_src, damage = load_settings_salvaged(root, base)
    project = Project(
        root=root, settings=settings, settings_source=settings_src, settings_damage=damage
    )
    if settings_src is not None:
        project.diagnostics.extend(settings_src.diagnostics)
    files = list(only) if only is not None else sequence_files(root)
    seen: dict[str, SourceFile] = {}
    for path in files:
        if leaves(root, path):  # never read (nor echoed): it may be a .env or a key file
            shown = _display(path, base)
            project.diagnostics.append(symlink_outside(shown, shown.name))
            continue
        loaded, src = load_sequence(path, base, settings, salvage=salvage)
        project.diagnostics.extend(src.diagnostics)
        if loaded is None:
            continue
        if loaded.id in seen:
            first = seen[loaded.id]
            project.diagnostics.append(
                error(
                    src.locate(("sequence",)),
                    "duplicate-sequence-id",
                    f"sequence id '{loaded.id}' is also used by {first.path}",
                    "give each sequence a unique `sequence:` id",
                )
            )
            continue
        seen[loaded.id] = src
        project.sequences[loaded.id] = loaded
    if only is None and not files:
        project.diagnostics.append(
            warning(Location(_display(root, base), 1, 1), "no-sequences", "no sequence files found")
        )
    return project
