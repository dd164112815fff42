"""Unknown keys, taught: where the mapping that holds one is, and which keys it takes.

Pydantic names an unknown key by a path that mixes data keys with union tags (`steps.0.send.
chanel`: `send` is the Send model's tag there, not the step's `send:` key). `mapping_path`
follows that path through the data itself, so the key is located where it is written; and
`allowed_keys` follows the same path through the JSON Schema (`journeyctl schema`), so the hint
quotes the keys of that mapping, not the whole schema.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

from journeyctl.spec.schema import Kind, json_schema

KeyPath = tuple[str | int, ...]


def mapping_path(data: Any, loc: tuple[Any, ...]) -> KeyPath:
    """The data path of the mapping that holds the unknown key `loc[-1]`.

    A segment is followed when it names a key (or index) whose value is a mapping or list;
    otherwise it is a tag of pydantic's and skipped.
    """
    path: list[str | int] = []
    node = data
    for seg in loc[:-1]:
        into_mapping = isinstance(node, dict) and isinstance(node.get(seg), dict | list)
        into_list = isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node)
        if into_mapping or into_list:
            node = node[seg]
            path.append(seg)
    return tuple(path)


@lru_cache(maxsize=2)
def _schema(kind: Kind) -> dict[str, Any]:
    return json_schema(kind)


def _resolve(schema: dict[str, Any], node: Any) -> list[dict[str, Any]]:
    """The alternatives `node` stands for: $ref followed, anyOf/oneOf/allOf flattened."""
    if not isinstance(node, dict):
        return []
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _resolve(schema, schema["$defs"][ref.removeprefix("#/$defs/")])
    alts = [*node.get("anyOf", []), *node.get("oneOf", []), *node.get("allOf", [])]
    if alts:
        return [a for alt in alts for a in _resolve(schema, alt)]
    return [node]


def _fits(alt: dict[str, Any], data: dict[Any, Any]) -> int:
    """How well a mapping schema fits `data`: keys it knows, -1 when a tag value contradicts."""
    props = alt.get("properties", {})
    score = 0
    for key, value in data.items():
        prop = props.get(key)
        if prop is None:
            continue
        allowed = [prop["const"]] if "const" in prop else prop.get("enum")
        if allowed is not None and value not in allowed:
            return -1
        score += 1
    return score


def _best(schema: dict[str, Any], node: Any, data: Any) -> dict[str, Any] | None:
    mappings = [a for a in _resolve(schema, node) if "properties" in a]
    if not mappings or not isinstance(data, dict):
        return mappings[0] if mappings else None
    return max(mappings, key=lambda a: _fits(a, data))


def allowed_keys(kind: Kind, data: Any, path: KeyPath) -> list[str]:
    """The keys the schema allows in the mapping at `path` of `data` ([] when unknown)."""
    schema = _schema(kind)
    node: Any = schema
    here = data
    for seg in path:
        if isinstance(seg, int):
            alts = [a for a in _resolve(schema, node) if "items" in a]
            if not alts or not isinstance(here, list):
                return []
            node, here = alts[0]["items"], here[seg]
            continue
        best = _best(schema, node, here)
        nxt: Any = None
        if best is not None and seg in best.get("properties", {}):
            nxt = best["properties"][seg]
        else:  # a mapping of names (channels, migrate, split arms): its values' schema
            extra = [
                value
                for a in _resolve(schema, node)
                for value in (
                    a.get("additionalProperties"),
                    *a.get("patternProperties", {}).values(),
                )
                if isinstance(value, dict)
            ]
            nxt = extra[0] if extra else None
        if nxt is None or not isinstance(here, dict):
            return []
        node, here = nxt, here.get(seg)
    best = _best(schema, node, here)
    return list(best.get("properties", {})) if best is not None else []


def did_you_mean(key: str, allowed: list[str]) -> str | None:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_key_hint(key: str, allowed: list[str]) -> str:
    keys = ", ".join(allowed)
    close = did_you_mean(key, allowed)
    if not allowed:
        return "check the spelling; `journeyctl schema` lists every key"
    if close is not None:
        return f"did you mean `{close}`? keys here: {keys}"
    return f"keys here: {keys}"
