"""Point inside YAML scalars and template files: where in `"{{ contact.nam }}"` the typo is."""

from __future__ import annotations

from pathlib import Path

from yaml.nodes import ScalarNode

from journeyctl.diagnostics import Location
from journeyctl.spec.yamlsrc import SourceFile


def _at_index(src: SourceFile, index: int) -> Location:
    line = src.text.count("\n", 0, index) + 1
    col = index - (src.text.rfind("\n", 0, index) + 1) + 1
    return Location(src.path, line, col)


def in_scalar(src: SourceFile, path: tuple[str | int, ...], needle: str | None = None) -> Location:
    """The location of `needle` inside the scalar at `path` (the scalar itself if not found).

    Searching the raw file text between the node's marks works for plain, quoted and block
    scalars alike, where an offset into the parsed value would not.
    """
    node = src.node_at(path)
    if not isinstance(node, ScalarNode):
        return src.locate(path)
    if needle:
        idx = src.text.find(needle, node.start_mark.index, node.end_mark.index)
        if idx >= 0:
            return _at_index(src, idx)
    return src.scalar_location(path)


def scalar_line(src: SourceFile, path: tuple[str | int, ...], lineno: int) -> Location:
    """Line `lineno` (1-based, as jinja counts) of the scalar's value, at its first character."""
    node = src.node_at(path)
    if not isinstance(node, ScalarNode) or (lineno <= 1 and node.style not in ("|", ">")):
        return src.scalar_location(path)
    # block scalars start on the line after the indicator; others continue on the next lines
    first = node.start_mark.line + (1 if node.style in ("|", ">") else 0)
    line_no = first + lineno  # 1-based file line
    text = src.line_text(line_no)
    return Location(src.path, line_no, len(text) - len(text.lstrip()) + 1)


def in_text_line(path: Path, text: str, lineno: int, needle: str | None = None) -> Location:
    """Location in a template file: line `lineno`, at `needle` when that line contains it."""
    lines = text.splitlines()
    line = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    col = 1
    if needle and needle in line:
        col = line.index(needle) + 1
    elif line.strip():
        col = len(line) - len(line.lstrip()) + 1
    return Location(path, max(lineno, 1), col)
