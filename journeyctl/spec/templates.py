"""The sandboxed template environment: StrictUndefined, autoescape for HTML, files under templates/.

Contact data is data: values are passed as variables and never compiled as templates.
"""

from __future__ import annotations

import operator
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateSyntaxError,
    Undefined,
    nodes,
    select_autoescape,
)
from jinja2.exceptions import TemplateRuntimeError
from jinja2.filters import FILTERS
from jinja2.loaders import split_template_path
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from journeyctl.spec.yamlsrc import leaves

# names every message template may use (SPEC §2)
TEMPLATE_SCOPE = frozenset({"contact", "sequence", "step", "unsubscribe_url", "sender", "now"})
# Everything `getattr` finds on a plain dict (its methods and object's): a plain dict has no
# instance attributes, so any other name is not an attribute of it.
_DICT_ATTRIBUTES = frozenset(dir({}))

# --- limits (docs/DECISIONS.md, "Hostile project files"): what one render may cost ------------
# A template is trusted code, reviewed in git; still, a typo or a hostile pull request must
# not hang `run` (which holds the lock) or fill the memory. Every render gets a budget; when it
# runs out, that contact's message fails alone, with the reason (engine/failures.py).
MAX_TEXT = 2 * 1024 * 1024  # characters in one rendered part, or one value a template builds
MAX_BUILT = 32 * 1024 * 1024  # characters built by operators, filters and calls, in all
MAX_STEPS = 250_000  # loop iterations plus calls (a call counts as ten: a macro's is slow)
_CALL_STEPS = 10
MAX_SECONDS = 10.0  # a backstop; the step budget is what normally ends a runaway render
MAX_WIDTH = 10_000  # a field width (center, indent, ljust, format specs)
MAX_INT_BITS = 4096  # an integer computed by ** or *
MAX_ITEMS = 100_000  # a batch or slice count (like jinja's own range limit)
# what a template may be: its nesting (parser and compiler recurse), nested loops (Python
# allows 20 nested blocks), its size in bytes
MAX_NESTING = 64
MAX_LOOP_NESTING = 10
MAX_TEMPLATE_BYTES = 1024 * 1024


class RenderLimitError(TemplateRuntimeError):
    """A render ran out of its budget (its message fails; the run goes on)."""


class TemplateLimitError(TemplateSyntaxError):
    """A template or expression is nested too deeply (reported as `template-limit`)."""


class _Budget:
    __slots__ = ("built", "deadline", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.built = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > MAX_STEPS:
            raise RenderLimitError(
                f"more than {MAX_STEPS:,} loop iterations and calls in one render (render limit)"
            )
        if not self.steps & 1023 and time.monotonic() > self.deadline:
            raise RenderLimitError(f"rendering took over {MAX_SECONDS:g} s (render limit)")

    def build(self, n: int) -> None:
        if n > MAX_TEXT:
            raise RenderLimitError(f"a value of over {_mib(MAX_TEXT)} (render limit)")
        self.built += n
        if self.built > MAX_BUILT:
            raise RenderLimitError(
                f"more than {_mib(MAX_BUILT)} of text built in one render (render limit)"
            )


class _State(threading.local):
    budget: _Budget | None = None


_state = _State()


def _mib(n: int) -> str:
    return f"{n // 1048576} MiB"


def _budget() -> _Budget:
    """The running render's budget; outside a render (an expression, a constant), a fresh one:
    each operation is still bounded on its own."""
    return _state.budget or _Budget()


def _sized(value: Any) -> Any:
    if isinstance(value, str | list | tuple):
        _budget().build(len(value))
    return value


def _concat(pieces: Iterable[str]) -> str:
    """`environment.concat`: joins a render's output (and a macro's, a {% set %} block's). The
    outermost call of a render owns its budget; the output is counted piece by piece, so a
    runaway template stops at the limit instead of after filling the memory."""
    state = _state
    if state.budget is not None:
        return _join(pieces, state.budget)
    state.budget = _Budget()
    try:
        return _join(pieces, state.budget)
    finally:
        state.budget = None


def _join(pieces: Iterable[str], budget: _Budget) -> str:
    out = []
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > MAX_TEXT:
            raise RenderLimitError(f"the output is larger than {_mib(MAX_TEXT)} (render limit)")
        out.append(piece)
    budget.step(len(out) >> 4)
    return "".join(out)


def _loop(iterable: Any) -> Iterator[Any]:
    """What every `{% for %}` iterates (added by `_Sandbox._generate`): counted."""
    budget = _budget()
    for item in iterable:
        budget.step()
        yield item


def _str_join(seq: Any) -> str:  # `a ~ b`
    return _sized(str_join(seq))  # type: ignore[no-any-return]


def _markup_join(seq: Any) -> str:  # `a ~ b` where autoescaping
    return _sized(markup_join(seq))  # type: ignore[no-any-return]


def _int_too_big(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise RenderLimitError(f"a number of over {MAX_INT_BITS} bits (render limit)")


def _check_binop(op: str, left: Any, right: Any) -> None:
    """Refuse, before computing it, a result over the limits."""
    seqs = (str, list, tuple)
    if op == "*":
        if isinstance(left, int) and isinstance(right, seqs):
            left, right = right, left
        if isinstance(left, seqs) and isinstance(right, int) and not isinstance(right, bool):
            _budget().build(len(left) * max(right, 0))
        elif type(left) is int and type(right) is int:
            _int_too_big(left.bit_length() + right.bit_length())
    elif op == "**":
        if type(left) is int and type(right) is int and right > 0 and abs(left) > 1:
            _int_too_big(left.bit_length() * min(right, MAX_INT_BITS + 1))
    elif op == "+":
        if isinstance(left, seqs) and isinstance(right, seqs):
            _budget().build(len(left) + len(right))
    elif op == "%" and isinstance(left, str):
        _check_printf(left, right)


_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def _check_printf(fmt: str, args: Any) -> None:
    for m in _PRINTF.finditer(fmt):
        for part in m.groups():
            if part == "*" or (part and int(part) > MAX_WIDTH):
                raise RenderLimitError(
                    f"a format width over {MAX_WIDTH} or given as * (render limit)"
                )


def _check_format(fmt: str) -> None:
    """str.format: no width or precision over the limit, no nested {} in a spec."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format reports it
    for _, _, spec, _ in fields:
        if spec and ("{" in spec or any(int(d) > MAX_WIDTH for d in _DIGITS.findall(spec))):
            raise RenderLimitError(f"a format width over {MAX_WIDTH} or computed (render limit)")


def _width(value: Any) -> None:
    if isinstance(value, int) and value > MAX_WIDTH:
        raise RenderLimitError(f"a width over {MAX_WIDTH} (render limit)")


_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _guard_filters() -> dict[str, Any]:
    """jinja's filters that can make a value much bigger than their input, with the sizes
    they would build checked first."""
    base = FILTERS

    def center(value: Any, width: int = 80) -> Any:
        _width(width)
        return base["center"](value, width)

    def indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        pad = width if isinstance(width, int) else len(str(width))
        _width(pad)
        text = str(s)
        _budget().build(len(text) + (text.count("\n") + 1) * max(pad, 0))  # before, not after
        return _sized(base["indent"](s, width, first, blank))

    def wordwrap(
        eval_ctx: Any, s: Any, width: int = 79, break_long_words: bool = True,
        wrapstring: Any = None, break_on_hyphens: bool = True,
    ) -> Any:  # fmt: skip
        text = str(s)
        # at most one break per character, each the length of the wrap string
        _budget().build(len(text) * (1 + len(str(wrapstring or "\n"))))
        return _sized(
            base["wordwrap"](eval_ctx, s, width, break_long_words, wrapstring, break_on_hyphens)
        )

    wordwrap.jinja_pass_arg = base["wordwrap"].jinja_pass_arg  # type: ignore[attr-defined]

    def tojson(eval_ctx: Any, value: Any, indent: Any = None) -> Any:
        if indent is not None:
            _width(indent * 100 if isinstance(indent, int) else len(str(indent)) * 100)
        return _sized(base["tojson"](eval_ctx, value, indent))

    tojson.jinja_pass_arg = base["tojson"].jinja_pass_arg  # type: ignore[attr-defined]

    def fmt(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            _check_printf(value, args)
        return _sized(base["format"](value, *args, **kwargs))

    def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        _count(linecount)
        return base["batch"](value, linecount, fill_with)

    def slice_(value: Any, slices: int, fill_with: Any = None) -> Any:
        _count(slices)
        return base["slice"](value, slices, fill_with)

    def replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> Any:
        text, o, n = str(s), str(old), str(new)
        hits = text.count(o) if o else len(text) + 1
        if count is not None:
            hits = min(hits, max(count, 0))
        _budget().build(len(text) + hits * max(len(n) - len(o), 0))
        return base["replace"](eval_ctx, s, old, new, count)

    replace.jinja_pass_arg = base["replace"].jinja_pass_arg  # type: ignore[attr-defined]

    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        if attribute is None and isinstance(value, list | tuple):
            items = [len(v) if isinstance(v, str) else 1 for v in value]
            _budget().build(sum(items) + len(str(d)) * max(len(items) - 1, 0))
        return _sized(base["join"](eval_ctx, value, d, attribute))

    join.jinja_pass_arg = base["join"].jinja_pass_arg  # type: ignore[attr-defined]
    return {
        "center": center, "indent": indent, "format": fmt, "batch": batch,
        "slice": slice_, "replace": replace, "join": join, "wordwrap": wordwrap,
        "tojson": tojson, _LOOP_FILTER: _loop,
    }  # fmt: skip


def _count(n: Any) -> None:
    if isinstance(n, int) and n > MAX_ITEMS:
        raise RenderLimitError(f"a count over {MAX_ITEMS:,} (render limit)")


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
    from jinja2.utils import generate_lorem_ipsum

    _count(n * 1000)
    _width(max * 100)
    return generate_lorem_ipsum(n, html, min, max)


_BINOPS = {
    "Add": "+",
    "Sub": "-",
    "Mul": "*",
    "Div": "/",
    "FloorDiv": "//",
    "Pow": "**",
    "Mod": "%",
}
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "**": operator.pow, "%": operator.mod,
}  # fmt: skip
_NOT_CONST = object()


def constant_limits(tree: nodes.Node) -> list[tuple[str, int]]:
    """(reason, line) of each constant computation that would run out of a render's budget
    (`'a' * 10**9`): it fails for every contact, so validate says so, without computing it."""
    found: list[tuple[str, int]] = []

    def value(node: nodes.Node) -> Any:
        if isinstance(node, nodes.Const):
            return node.value
        if isinstance(node, nodes.Neg | nodes.Pos):
            v = value(node.node)
            if type(v) in (int, float):
                return -v if isinstance(node, nodes.Neg) else v
            return _NOT_CONST
        op = _BINOPS.get(type(node).__name__)
        if op is None or not isinstance(node, nodes.BinExpr):
            return _NOT_CONST
        left, right = value(node.left), value(node.right)
        if left is _NOT_CONST or right is _NOT_CONST:
            return _NOT_CONST
        try:
            _check_binop(op, left, right)
            return _OPERATORS[op](left, right)
        except RenderLimitError as exc:
            found.append((str(exc), node.lineno))
        except Exception:  # 1 / 0 and the like: the render reports it
            pass
        return _NOT_CONST

    binexprs = list(tree.find_all(nodes.BinExpr))
    # by identity, once: jinja's Node.__eq__ compares whole subtrees (quadratic and worse)
    inner = {id(side) for n in binexprs for side in (n.left, n.right)}
    for expr in binexprs:
        if id(expr) not in inner:
            value(expr)  # from each outermost computation down
    return found


_LOOP_FILTER = "journeyctl loop"  # not a name a template can write
_JOINS = (
    "; from journeyctl.spec.templates import _str_join as str_join, _markup_join as markup_join"
)


def nesting_of(tree: nodes.Node) -> tuple[int, int, int]:
    """(deepest node nesting, deepest loop nesting, the line where the first limit is passed,
    else 0), without recursion."""
    deepest = loops_deepest = 0
    stack: list[tuple[nodes.Node, int, int]] = [(tree, 1, 0)]
    while stack:
        node, depth, loops = stack.pop()
        if isinstance(node, nodes.For):
            loops += 1
        deepest = max(deepest, depth)
        loops_deepest = max(loops_deepest, loops)
        if depth > MAX_NESTING or loops > MAX_LOOP_NESTING:
            return deepest, loops_deepest, getattr(node, "lineno", 1) or 1
        stack.extend((child, depth + 1, loops) for child in node.iter_child_nodes())
    return deepest, loops_deepest, 0


def check_nesting(tree: nodes.Node, name: str | None = None) -> None:
    """Raise TemplateLimitError when a parsed template nests deeper than the compiler can."""
    _, loops, line = nesting_of(tree)
    if line:
        what = (
            f"loops nested more than {MAX_LOOP_NESTING} deep"
            if loops > MAX_LOOP_NESTING
            else f"nested deeper than {MAX_NESTING} levels"
        )
        raise TemplateLimitError(what, line, name)


def _deepest_line(env: Any, source: str) -> int:
    """Where brackets and blocks nest deepest (a parse that recursed too far has no line)."""
    depth = best = 0
    line = 1
    try:
        for lineno, kind, value in env.lex(source):
            if kind == "operator" and value in "([{":
                depth += 1
            elif kind == "operator" and value in ")]}":
                depth -= 1
            elif kind == "name" and value in ("for", "if", "macro", "call", "filter", "with"):
                depth += 1
            elif kind == "name" and value.startswith("end"):
                depth -= 1
            elif (kind == "operator" and value in ("-", "+")) or (kind, value) == ("name", "not"):
                depth += 1  # unary chains recurse too (an over-estimate is fine here)
            if depth > best:
                best, line = depth, lineno
    except TemplateSyntaxError:
        pass
    return line


def _blank(value: Any) -> Any:
    """Empty is empty: a contact's missing or empty value prints as nothing, not "None"."""
    return "" if value is None else value


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's `default`, also for the empty values a contact export has (None, ""), so
    `{{ contact.name | default('고객') }}` greets an unnamed contact as users expect."""
    if value is None or value == "" or isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


class Record(dict[str, Any]):
    """A mapping whose keys win over dict's methods in templates and expressions: the
    triggering event's `event.items` is its `items` property, not `dict.items`."""


class Bounded(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every render on a budget (see the limits above), and
    templates or expressions nested too deeply refused as a TemplateLimitError."""

    # Intercepted: no constant folding at compile time (validate never builds `'a' * 10**9`),
    # and each is checked before it computes.
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is Record and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.concat = _concat  # type: ignore[assignment]
        self.filters.update(_guard_filters())
        self.globals["lipsum"] = _lipsum

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _budget().step(_CALL_STEPS)
        name = getattr(__obj, "__name__", None)
        # str.format comes wrapped by the sandbox (`wrap_str_format`): look at the original
        target = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(target, str):
            if name in _WIDTH_METHODS and args:
                _width(args[0])
            elif name in ("format", "format_map"):
                _check_format(target)
            elif name == "replace" and len(args) >= 2:
                # the size it would build, before it is built (as the replace filter)
                old, new = str(args[0]), str(args[1])
                hits = target.count(old) if old else len(target) + 1
                _budget().build(len(target) + hits * max(len(new) - len(old), 0))
            elif name == "join" and args and isinstance(args[0], list | tuple):
                parts = [len(v) if isinstance(v, str) else 1 for v in args[0]]
                _budget().build(sum(parts) + len(target) * max(len(parts) - 1, 0))
        out = super().call(__context, __obj, *args, **kwargs)
        return _sized(out)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        try:
            tree = super()._parse(source, name, filename)
        except RecursionError:
            raise TemplateLimitError(
                f"nested deeper than {MAX_NESTING} levels",
                _deepest_line(self, source),
                name,
                filename,
            ) from None
        check_nesting(tree, name)
        return tree

    def compile_expression(self, source: str, undefined_to_none: bool = True) -> Any:
        try:  # jinja parses an expression without _parse: check its nesting the same way
            self._parse("{{ (" + source + "\n) }}", None, None)
        except TemplateLimitError:
            raise
        except TemplateSyntaxError:
            pass  # compile_expression says what is wrong, as before
        return super().compile_expression(source, undefined_to_none)

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        for loop in source.find_all(nodes.For):
            if not _counted(loop.iter):
                loop.iter = nodes.Filter(
                    loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.iter.lineno
                )
        for call in source.find_all(nodes.Call):  # `loop(children)` in a recursive loop
            node, args = call.node, call.args
            recursive = isinstance(node, nodes.Name) and node.name == "loop"
            if recursive and args and not _counted(args[0]):
                args[0] = nodes.Filter(
                    args[0], _LOOP_FILTER, [], [], None, None, lineno=args[0].lineno
                )
        code: str = super()._generate(source, name, filename, defer_init)
        head, sep, rest = code.partition("\n")
        if not head.startswith("from jinja2.runtime import "):  # pragma: no cover
            raise TemplateRuntimeError("unexpected jinja2 code layout: upgrade journeyctl")
        return head + _JOINS + sep + rest  # the same line: template line numbers stay right


def _counted(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Filter) and node.name == _LOOP_FILTER


class _Sandbox(Bounded):
    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_blank, **options)
        self.filters["default"] = self.filters["d"] = _default

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`contact.name` on a plain dict: the item, as the sandbox returns it, without first
        raising and catching an AttributeError (the costliest part of a message's render)."""
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class _ProjectLoader(FileSystemLoader):
    """templates/ files, never through a symlink out of the project (its parent folder), and
    none over MAX_TEMPLATE_BYTES: checked before the file is opened."""

    def __init__(self, templates_dir: Path) -> None:
        super().__init__(str(templates_dir))
        self._root = templates_dir.parent

    def get_source(self, environment: Any, template: str) -> Any:
        path = self._root / "templates" / "/".join(split_template_path(template))
        if path.is_file() or path.is_symlink():
            if leaves(self._root, path):
                raise TemplateRuntimeError(
                    f"template {template!r} is a symlink to a file outside the project: not read"
                )
            size = path.stat().st_size
            if size > MAX_TEMPLATE_BYTES:
                raise TemplateRuntimeError(
                    f"template {template!r} is over {_mib(MAX_TEMPLATE_BYTES)} (render limit)"
                )
        return super().get_source(environment, template)


@lru_cache(maxsize=64)
def template_environment(
    templates_dir: Path, fingerprint: str = ""
) -> ImmutableSandboxedEnvironment:
    """The environment of a project's template files (and its cache of compiled templates),
    one per `fingerprint` (spec.manifest: the engine passes its project's)."""
    return _Sandbox(
        loader=_ProjectLoader(templates_dir),
        undefined=StrictUndefined,
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "html.j2", "htm.j2"), default_for_string=False
        ),
        keep_trailing_newline=True,
    )


@lru_cache(maxsize=1)
def inline_environment() -> ImmutableSandboxedEnvironment:
    """For subjects and SMS/push bodies written inline in YAML: plain text, no escaping."""
    return _Sandbox(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=8192)
def inline_template(source: str) -> Template:
    return inline_environment().from_string(source)


def file_template(templates_dir: Path, name: str, fingerprint: str = "") -> Template:
    return template_environment(templates_dir, fingerprint).get_template(name)


def is_html(name: str) -> bool:
    return name.removesuffix(".j2").endswith((".html", ".htm"))
