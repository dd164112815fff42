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
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError
from yaml.resolver import Resolver

from journeyctl.diagnostics import Diagnostic, Location, error

_RETYPED = {f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "timestamp")}

# Limits on what one project file may ask of the loader (docs/DECISIONS.md, "Hostile project
# files"): a file bigger than this is refused before it is read; deeper nesting, more aliases
# or a bigger alias expansion is refused while composing, before anything is built from it.
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_NODES = 20_000
MAX_ALIASES = 100
MAX_ALIAS_NODES = 10_000
# The only tags a project file may spell out: those of the data JSON has.
_PLAIN_TAGS = {
    "!",
    *(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map")),
}


class LimitError(yaml.MarkedYAMLError):
    """A file asks more of the loader than a project file may (located, with its own code)."""

    def __init__(self, code: str, problem: str, mark: Any, hint: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.code, self.hint = code, hint


_ALIAS_HINT = (
    f"at most {MAX_ALIASES} aliases (*name) per file, expanding to at most "
    f"{MAX_ALIAS_NODES} values in all; write the values out"
)


class _Bounded(Composer):
    """A composer that refuses, where it stands, an alias bomb, deep nesting or an exotic tag
    (in time linear in the file's size, before anything is built): see the limits above."""

    def _bound(self) -> None:
        self._nodes = 0
        self._depth = 0
        self._aliases = 0
        self._alias_nodes = 0
        self._open: set[str] = set()  # anchors whose node is still being composed
        self._sizes: dict[int, int] = {}  # id(node) -> values it expands to

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, AliasEvent):
            if event.anchor in self._open:
                raise LimitError(
                    "yaml-limit",
                    f"alias *{event.anchor} refers to the value it is part of",
                    event.start_mark,
                    "a value cannot contain itself; write it out",
                )
            node: Node = super().compose_node(parent, index)  # type: ignore[assignment]
            self._aliases += 1
            self._alias_nodes += self._size(node)
            if self._aliases > MAX_ALIASES or self._alias_nodes > MAX_ALIAS_NODES:
                raise LimitError(
                    "yaml-limit",
                    f"too many aliases: more than {MAX_ALIASES} or expanding to more than "
                    f"{MAX_ALIAS_NODES} values (an alias bomb?)",
                    event.start_mark,
                    _ALIAS_HINT,
                )
            return node
        if isinstance(event, ScalarEvent | CollectionStartEvent):
            tag = event.tag
            if tag is not None and tag not in _PLAIN_TAGS:
                raise LimitError(
                    "unsupported-tag",
                    f"the tag {tag!r} is not allowed in project files",
                    event.start_mark,
                    "remove the tag: project files hold only text, numbers, true/false, "
                    "lists and mappings",
                )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise LimitError(
                "yaml-limit",
                f"more than {MAX_NODES} values in one file",
                event.start_mark,
                "a project file needs a few hundred values; is this the right file?",
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise LimitError(
                "yaml-limit",
                f"nested deeper than {MAX_DEPTH} levels",
                event.start_mark,
                "a project file needs only a few levels; flatten this value",
            )
        anchor = event.anchor if isinstance(event, NodeEvent) else None
        if anchor is not None:
            self._open.add(anchor)
        try:
            composed: Node = super().compose_node(parent, index)  # type: ignore[assignment]
            return composed
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)

    def _size(self, node: Node) -> int:
        """How many values `node` expands to (its nesting is bounded by MAX_DEPTH)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._size(item) for item in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self._size(k) + self._size(v) for k, v in node.value)
        self._sizes[id(node)] = size
        return size


class SpecLoader(_Bounded, yaml.SafeLoader):
    """SafeLoader with YAML 1.2-style scalars: no yes/no booleans, no 10:00 == 600, no dates."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._bound()


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _RETYPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)
# Decimal only, and no leading zero: `0805000000` (a phone number), `09` or `0755` stay text
# (PyYAML would read a leading 0 as octal, and fail on an 8 or a 9).
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)


def _construct_int(loader: SafeConstructor, node: Node) -> int:
    """Decimal integers of up to 100 digits (`!!int 0x1f` or 5000 digits: a located error)."""
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if not re.fullmatch(r"[-+]?[0-9]{1,100}", text):
        raise LimitError(
            "bad-value",
            f"{text[:40]!r} is not a whole number (decimal, up to 100 digits)",
            node.start_mark,
            "write a decimal number, or quote the value to keep it as text",
        )
    return int(text, 10)


SpecLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)  # type: ignore[type-var]
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


_FastLoader: Any = None
if getattr(yaml, "__with_libyaml__", False):  # pragma: no branch - PyYAML wheels have it
    from yaml._yaml import CParser

    class _CSpecLoader(_Bounded, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        """SpecLoader reading its events from libyaml: the same nodes and data, several
        times faster than pure-Python scanning. Errors are reported by SpecLoader,
        whose messages the diagnostics quote."""

        yaml_implicit_resolvers = SpecLoader.yaml_implicit_resolvers
        yaml_constructors = SpecLoader.yaml_constructors

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._bound()

        def compose_scalar_node(self, anchor: Any) -> ScalarNode:
            node: ScalarNode = super().compose_scalar_node(anchor)
            node.style = node.style or None  # libyaml says '' for plain, PyYAML None
            return node

    _FastLoader = _CSpecLoader


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
    """Every key written twice in one mapping. Iterative, and each node once: aliases make
    the tree a graph, deep in total though every part is within the nesting limit."""
    seen_nodes: set[int] = set()
    stack = [node]
    while stack:
        here = stack.pop()
        if id(here) in seen_nodes:
            continue
        seen_nodes.add(id(here))
        if isinstance(here, MappingNode):
            keys: dict[Any, Node] = {}
            for k, v in here.value:
                if isinstance(k, ScalarNode):
                    if k.value in keys:
                        first = src.loc(keys[k.value].start_mark)
                        yield error(
                            src.loc(k.start_mark),
                            "duplicate-key",
                            f"duplicate key '{k.value}' (first defined at line {first.line})",
                            "YAML keeps only the last one silently; merge or rename the two",
                        )
                    else:
                        keys[k.value] = k
                stack.append(v)
        elif isinstance(here, SequenceNode):
            stack.extend(reversed(here.value))


def decode_text(raw: bytes) -> str:
    """Project files are UTF-8 (a BOM is tolerated)."""
    return raw.decode("utf-8-sig")


def _load(src: SourceFile, loader: Any) -> None:
    try:
        root = loader.get_single_node()
        if root is not None:
            src.diagnostics.extend(_duplicate_keys(src, root))
            src.data = loader.construct_document(root)
        src.root = root
    finally:
        loader.dispose()


def _limit(src: SourceFile, exc: LimitError) -> Diagnostic:
    return error(src.loc(exc.problem_mark), exc.code, exc.problem or "", exc.hint)


def parse_text(path: Path, text: str) -> SourceFile:
    src = SourceFile(path=path, text=text)
    if _FastLoader is not None:
        try:
            _load(src, _FastLoader(text))
            return src
        except LimitError as exc:
            src.data = None
            src.diagnostics.append(_limit(src, exc))
            return src
        except yaml.YAMLError:
            pass  # SpecLoader says what is wrong, in the words the diagnostics document
        src = SourceFile(path=path, text=text)
    try:
        _load(src, SpecLoader(text))
    except LimitError as exc:
        src.diagnostics.append(_limit(src, exc))
        src.data = None
    except ReaderError as exc:  # a control character: PyYAML gives its offset in the text
        before = text[: exc.position]
        line = before.count("\n") + 1
        col = exc.position - (before.rfind("\n") + 1) + 1
        src.diagnostics.append(
            error(
                Location(path, line, col),
                "bad-encoding",
                f"control character U+{exc.character:04X} is not allowed in YAML",
                "remove it (a binary file, or text pasted with control characters?)",
            )
        )
        src.data = None
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


def leaves(root: Path, path: Path) -> bool:
    """Whether `path` is (or goes through) a symlink to somewhere outside `root`."""
    try:
        return not path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return True


def symlink_outside(shown: Path, what: str, loc: Location | None = None) -> Diagnostic:
    return error(
        loc or Location(shown, 1, 1),
        "symlink-outside",
        f"{what} is a symlink to a file outside the project: not read",
        "copy the file into the project (a link may only point inside it)",
    )


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MiB" if n >= 1048576 else f"{n // 1024} KiB"


def too_large(shown: Path, size: int, limit: int, code: str) -> Diagnostic:
    return error(
        Location(shown, 1, 1),
        code,
        f"the file is {_size(size)}; project files are limited to {_size(limit)}",
        "a project file is a few KB: is this the right file?",
    )


def read_limited(path: Path, limit: int) -> bytes | None:
    """The file's bytes, or None when it holds more than `limit` (read no further)."""
    with path.open("rb") as f:
        raw = f.read(limit + 1)
    return None if len(raw) > limit else raw


def parse_file(path: Path, display: Path | None = None) -> SourceFile:
    shown = display or path
    raw = read_limited(path, MAX_FILE_BYTES)
    if raw is None:
        src = SourceFile(path=shown, text="")
        src.diagnostics.append(too_large(shown, path.stat().st_size, MAX_FILE_BYTES, "yaml-limit"))
        return src
    nul = raw.find(b"\x00")
    if nul >= 0:
        src = SourceFile(path=shown, text="")
        line = raw.count(b"\n", 0, nul) + 1
        col = nul - (raw.rfind(b"\n", 0, nul) + 1) + 1
        src.diagnostics.append(
            error(
                Location(shown, line, col),
                "bad-encoding",
                f"binary data (a NUL byte at byte {nul}), not YAML text",
                "project files are UTF-8 text: is this the right file?",
            )
        )
        return src
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
