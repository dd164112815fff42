"""Where output goes: data to stdout, diagnostics and progress to stderr; NO_COLOR respected."""

from __future__ import annotations

import codecs
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

# What a terminal obeys rather than shows: C0 controls but tab and newline (ESC starts CSI and
# OSC sequences: recolour, retitle the window, write the clipboard, forge links; CR overwrites
# a line), DEL and the C1 controls (U+009B is a one-character CSI). Data from contacts, channels
# and the database is shown with these escaped as `\x1b`, never obeyed.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if c not in (0x09, 0x0A)}
# JSON escapes C0 itself; DEL and C1 pass through `json.dumps(ensure_ascii=False)` raw.
_JSON_CONTROLS = {c: f"\\u{c:04x}" for c in range(0x7F, 0xA0)}


def escape_controls(text: str) -> str:
    """`text` with terminal control characters shown, not obeyed (newlines and tabs kept)."""
    return text.translate(_CONTROLS)


def cell(value: object) -> str:
    """A table cell from data: None as empty, control characters escaped."""
    return "" if value is None else str(value).translate(_CONTROLS)


def json_safe(text: str) -> str:
    """JSON text from `json.dumps(..., ensure_ascii=False)` with DEL and C1 controls written as
    \\u escapes: the same JSON value, and nothing a terminal would obey."""
    return text.translate(_JSON_CONTROLS)


# The byte order mark spreadsheets look for, in UTF-8 (`emit`'s `bom`).
BOM = "\ufeff".encode()


def _is_utf8(encoding: str | None) -> bool:
    try:
        return encoding is not None and codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


# Tables written to a file (`--out`) are laid out for this many columns: no terminal to ask.
FILE_WIDTH = 120


@dataclass
class Output:
    out: Console
    err: Console

    @classmethod
    def from_environment(cls) -> Output:
        no_color = bool(os.environ.get("NO_COLOR"))
        width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else None
        return cls(
            out=Console(
                file=sys.stdout, no_color=no_color, highlight=False, width=width, soft_wrap=True
            ),
            err=Console(
                file=sys.stderr,
                no_color=no_color,
                highlight=False,
                width=width,
                soft_wrap=True,
                stderr=True,
            ),
        )

    @property
    def progress_enabled(self) -> bool:
        return self.err.is_terminal

    def data(self, text: str) -> None:
        """Machine-readable output: exactly `text`, no wrapping or markup (to stdout, or to
        the file of `writing`)."""
        file = self.out.file
        file.write(text)
        if not text.endswith("\n"):
            file.write("\n")
        file.flush()

    def emit(self, text: str, path: Path | None, *, bom: bool = False) -> None:
        """Data to stdout, or to `path` written whole (temp file + rename: never half-written).
        `bom`: start with U+FEFF, the byte order mark spreadsheets look for (CSV)."""
        if bom:
            text = "\ufeff" + text
        if path is None:
            self.data(text)
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.replace(tmp, path)

    @contextmanager
    def stream(self, path: Path | None, *, bom: bool = False) -> Iterator[Callable[[str], object]]:
        """A `write` for data produced piece by piece: to stdout as it comes, or to `path`
        through a temporary file renamed into place when the block ends without an error
        (never half-written, as `emit`). `bom` as in `emit`."""
        if path is None:
            file = self.out.file
            if bom:
                file.write("\ufeff")
            yield file.write
            file.flush()
            return
        tmp = path.with_name(path.name + ".tmp")
        try:
            with tmp.open("w", encoding="utf-8") as fh:  # as emit writes
                if bom:
                    fh.write("\ufeff")
                yield fh.write
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)

    @contextmanager
    def stream_bytes(
        self, path: Path | None, *, bom: bool = False
    ) -> Iterator[Callable[[bytes], object]]:
        """`stream` for text already encoded as UTF-8 (what `stream` writes): the bytes go to
        the file, or to stdout's buffer when stdout writes UTF-8 with `\\n` line ends, else
        through stdout's text layer as before."""
        if path is None:
            file = self.out.file
            buffer = getattr(file, "buffer", None)
            encoding = getattr(file, "encoding", None)
            if buffer is None or os.linesep != "\n" or not _is_utf8(encoding):
                with self.stream(None, bom=bom) as write:
                    yield lambda data: write(data.decode())
                return
            file.flush()
            if bom:
                buffer.write(BOM)
            yield buffer.write
            buffer.flush()
            return
        if os.linesep != "\n":  # the text layer writes os.linesep for "\n"
            with self.stream(path, bom=bom) as write:
                yield lambda data: write(data.decode())
            return
        tmp = path.with_name(path.name + ".tmp")
        try:
            with tmp.open("wb") as fh:
                if bom:
                    fh.write(BOM)
                yield fh.write
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)

    @contextmanager
    def writing(self, path: Path | None) -> Iterator[Output]:
        """An Output whose data goes to `path` (written whole when the block ends), or this
        one when `path` is None: `--out` for commands that print tables."""
        if path is None:
            yield self
            return
        import io

        buf = io.StringIO()
        console = Console(
            file=buf, width=FILE_WIDTH, no_color=True, highlight=False, soft_wrap=True
        )
        yield Output(out=console, err=self.err)
        self.emit(buf.getvalue(), path)

    def progress(self, label: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
        """A progress bar on stderr, only when stderr is a terminal (SPEC §4)."""
        if not self.progress_enabled or total < 1000:
            return nullcontext(lambda n: None)
        return self._bar(label, total)

    @contextmanager
    def _bar(self, label: str, total: int) -> Iterator[Callable[[int], None]]:
        from rich.progress import Progress

        with Progress(console=self.err, transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda n: bar.update(task, completed=n)
