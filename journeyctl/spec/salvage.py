"""What of journey.yaml (and a sequence) is usable when it has errors, so one round of
validate says it all.

A journey.yaml that fails validation used to leave the project on default settings: every
declared contact field then read as undeclared, every channel as missing, and one typo became
dozens of errors in other files. Instead the keys that failed are left out (their defaults
used) and the rest is kept; each error records which top-level keys it damaged, and checks
whose result depends on a damaged key are counted under it (spec.cascade), not shown.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from pydantic import ValidationError

from journeyctl.spec.keys import allowed_keys, did_you_mean, mapping_path
from journeyctl.spec.models import ProjectSettings, Sequence

ALL: Final = frozenset({"*"})  # any key: the file could not be read as settings at all
Damage = list[tuple[Any, frozenset[str]]]  # (an error's Location, the keys it damaged)
_ROUNDS = 4


def _drop(data: dict[str, Any], err: Any) -> str:
    """Leave out what `err` is about; return the damaged top-level key ("*": unknown)."""
    loc = tuple(err["loc"])
    if not loc:
        return "*"
    top = str(loc[0])
    if err["type"] == "extra_forbidden":
        holder = mapping_path(data, loc)
        node: Any = data
        for seg in holder:
            node = node[seg]
        if isinstance(node, dict):
            node.pop(loc[-1], None)
        if len(loc) == 1:  # `quiet_hour:` damages what it was meant to be, if that is clear
            return did_you_mean(top, allowed_keys("journey", data, ())) or "*"
        return top
    data.pop(top, None)
    return top


def salvage_settings(
    data: dict[str, Any], exc: ValidationError
) -> tuple[ProjectSettings, frozenset[str]]:
    """The settings without the keys that fail, and the top-level keys left out or changed."""
    kept = copy.deepcopy(data)
    damaged: set[str] = set()
    for _ in range(_ROUNDS):
        damaged |= {_drop(kept, err) for err in exc.errors(include_url=False)}
        try:
            return ProjectSettings.model_validate(kept), frozenset(damaged)
        except ValidationError as again:
            exc = again
    return ProjectSettings(), ALL


def salvage_sequence(data: dict[str, Any], exc: ValidationError) -> Sequence | None:
    """The sequence read with each unknown key taken as the key it most likely meant (`chanel`
    as `channel`; dropped when nothing is close), when that is its only kind of mistake; else
    None. validate checks the rest of it in the same round (its errors are already reported)."""
    repaired = copy.deepcopy(data)
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == "missing":
            continue  # explained by a rename (`timout`), or validating the repair says so
        if err["type"] != "extra_forbidden" or not loc:
            return None
        holder = mapping_path(data, loc)
        node: Any = repaired
        for seg in holder:
            node = node[seg]
        if not isinstance(node, dict) or loc[-1] not in node:
            return None
        value = node.pop(loc[-1])
        meant = did_you_mean(str(loc[-1]), allowed_keys("sequence", data, holder))
        if meant is not None and meant not in node:
            node[meant] = value
    try:
        return Sequence.model_validate(repaired)
    except ValidationError:
        return None
