"""JSON Schema of sequence files and journey.yaml, for editors (`journeyctl schema`).

Generated from the pydantic models, then tidied: no auto titles, durations and times shown
as users write them, `format: time` dropped where the pattern says HH:MM.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from journeyctl.spec.durations import Duration
from journeyctl.spec.models import ProjectSettings, Sequence

Kind = Literal["sequence", "journey"]
KINDS: tuple[Kind, ...] = ("sequence", "journey")
_HEAD = {
    "sequence": ("journeyctl sequence", "One message sequence: trigger, audience and steps."),
    "journey": ("journeyctl journey.yaml", "Project settings; every key has a default."),
}


def _tidy(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _tidy(v) for k, v in node.items() if k != "title"}
        default = out.get("default")
        if isinstance(default, dict) and set(default) == {"days", "seconds"}:
            out["default"] = str(Duration(**default))
        if "pattern" in out and out.get("format") == "time":
            del out["format"]
            if isinstance(default, str) and len(default) == 8:
                out["default"] = default[:5]  # "09:00:00" -> "09:00", as the pattern wants
        return out
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    return node


def json_schema(kind: Kind) -> dict[str, Any]:
    model = Sequence if kind == "sequence" else ProjectSettings
    raw = model.model_json_schema(by_alias=True, mode="validation")
    title, description = _HEAD[kind]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description,
        **_tidy(raw),
    }


def schema_text(kind: Kind) -> str:
    """The schema as the checked-in docs/schema/<kind>.schema.json holds it."""
    return json.dumps(json_schema(kind), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def file_name(kind: Kind) -> str:
    return f"{kind}.schema.json"
