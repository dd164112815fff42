"""Strict YAML: YAML 1.2-style scalars, duplicate keys reported, locations kept beside the data.

PyYAML's SafeLoader reads `10:00` as 600 (base 60), `no` as False and `2026-11-01` as a date;
in files full of send times and weekdays that bites, so times, days and dates stay strings here
and pydantic types them where the model says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from journeyctl.diagnostics import Diagnostic, Location, error

_RETYPED = {f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "timestamp")}


class SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-style scalars: no yes/no booleans, no 10:00 == 600, no dates."""


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _RETYPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


@dataclass
class SourceFile:
    """One parsed YAML file: its data, its node tree (for locations) and its text."""

    path: Path
    text: str
    data: Any = None
    root: Node | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def loc(self, mark: yaml.Mark | None) -> Location:
        if mark is None:
            return Location(self.path, 1, 1)
        return Location(self.path, mark.line + 1, mark.column + 1)

    def locate(self, path: tuple[str | int, ...], *, at_key: bool = False) -> Location:
        """Best location for a key path: the deepest node the path reaches.

        Segments the YAML does not have (discriminator tags, model names) are skipped, so an
        error is never lost, only pointed at its nearest ancestor. `at_key` points at the key
        itself (for unknown keys) rather than its value.
        """
        if self.root is None:
            return Location(self.path, 1, 1)
        node: Node = self.root
        key: Node | None = None
        for seg in path:
            if isinstance(node, MappingNode):
                hit = next(((k, v) for k, v in node.value if k.value == seg), None)
                if hit is None:
                    continue
                key, node = hit
            elif isinstance(node, SequenceNode) and isinstance(seg, int) and seg < len(node.value):
                key, node = None, node.value[seg]
        mark = key.start_mark if (at_key and key is not None) else node.start_mark
        return self.loc(mark)

    def node_at(self, path: tuple[str | int, ...]) -> Node | None:
        """The node at exactly this path, or None."""
        node = self.root
        for seg in path:
            if isinstance(node, MappingNode):
                node = next((v for k, v in node.value if k.value == seg), None)
            elif isinstance(node, SequenceNode) and isinstance(seg, int) and seg < len(node.value):
                node = node.value[seg]
            else:
                return None
            if node is None:
                return None
        return node

    def scalar_location(self, path: tuple[str | int, ...], offset: int = 0) -> Location:
        """Location of a scalar value, `offset` characters into it when it is a plain one-liner."""
        node = self.node_at(path)
        if not isinstance(node, ScalarNode):
            return self.locate(path)
        base = self.loc(node.start_mark)
        if node.style in ("'", '"'):
            offset += 1
        elif node.style in ("|", ">"):
            return base
        return Location(base.path, base.line, base.col + offset)

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def _duplicate_keys(src: SourceFile, node: Node) -> Iterator[Diagnostic]:
    if isinstance(node, MappingNode):
        seen: dict[Any, Node] = {}
        for k, v in node.value:
            if isinstance(k, ScalarNode):
                if k.value in seen:
                    first = src.loc(seen[k.value].start_mark)
                    yield error(
                        src.loc(k.start_mark),
                        "duplicate-key",
                        f"duplicate key '{k.value}' (first defined at line {first.line})",
                        "YAML keeps only the last one silently; merge or rename the two",
                    )
                else:
                    seen[k.value] = k
            yield from _duplicate_keys(src, v)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(src, item)


def decode_text(raw: bytes) -> str:
    """Project files are UTF-8 (a BOM is tolerated)."""
    return raw.decode("utf-8-sig")


def parse_text(path: Path, text: str) -> SourceFile:
    src = SourceFile(path=path, text=text)
    try:
        loader = SpecLoader(text)
        try:
            root = loader.get_single_node()
            if root is not None:
                src.diagnostics.extend(_duplicate_keys(src, root))
                src.data = loader.construct_document(root)
            src.root = root
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "end of stream" in (exc.problem or ""):
            mark = exc.context_mark  # an unclosed quote: point at where it opens, not at EOF
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{problem} ({exc.context})"
        hint = "check indentation and quoting; a value containing ': ' or '#' needs quotes"
        if "\t" in text:
            hint = "YAML does not allow tabs for indentation; use spaces"
        src.diagnostics.append(error(src.loc(mark), "yaml-syntax", problem, hint))
        src.data = None
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises marked errors in practice
        src.diagnostics.append(error(Location(path, 1, 1), "yaml-syntax", str(exc)))
    return src


def parse_file(path: Path, display: Path | None = None) -> SourceFile:
    shown = display or path
    raw = path.read_bytes()
    try:
        text = decode_text(raw)
    except UnicodeDecodeError as exc:
        src = SourceFile(path=shown, text="")
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw.count(b"\n", 0, exc.start) + 1
        col = len(raw[line_start : exc.start].decode("utf-8", "replace")) + 1
        src.diagnostics.append(
            error(
                Location(shown, line, col),
                "bad-encoding",
                f"not UTF-8 (byte {exc.start}); Excel and Windows editors often save CP949",
                "save the file as UTF-8",
            )
        )
        return src
    return parse_text(shown, text)
