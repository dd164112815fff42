"""A fast path for the sandboxed expressions the engine evaluates thousands of times a second.

Jinja's compiled expression builds a template context per call (tens of µs). For the common
subset — names, constants, `contact.x`, comparisons, and/or/not, arithmetic, helper calls,
`is none` — the Jinja AST is translated to a Python closure with the same semantics; anything
else returns None and the caller keeps using Jinja. Attribute access stays safe: mappings are
indexed, objects expose only public attributes (as the sandbox allows).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final

from jinja2 import nodes
from jinja2.exceptions import UndefinedError

from journeyctl.spec.expressions import find_all, parse_expr

Evaluator = Callable[[Mapping[str, Any]], Any]

CMP: Final = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "gteq": ">=",
    "lt": "<",
    "lteq": "<=",
    "in": "in",
    "notin": "not in",
}
BIN: Final = {
    nodes.Add: "+",
    nodes.Sub: "-",
    nodes.Mul: "*",
    nodes.Div: "/",
    nodes.FloorDiv: "//",
    nodes.Mod: "%",
}


class Unsupported(Exception):
    pass


def ga(obj: Any, name: str) -> Any:
    """`obj.name` as the sandbox allows it: mappings are indexed, private names refused."""
    if type(obj) is dict or isinstance(obj, Mapping):  # the exact-type test is the fast path
        try:
            return obj[name]
        except KeyError:
            raise UndefinedError(f"{name!r} is undefined") from None
    if name.startswith("_"):
        raise UndefinedError(f"{name!r} is not accessible")
    try:
        return getattr(obj, name)
    except AttributeError:
        raise UndefinedError(f"{type(obj).__name__!r} has no attribute {name!r}") from None


def gi(obj: Any, key: Any) -> Any:
    """`obj[key]`, falling back to attribute access as Jinja does."""
    if isinstance(key, str) and key.startswith("_") and not isinstance(obj, Mapping):
        raise UndefinedError(f"{key!r} is not accessible")
    try:
        return obj[key]
    except (KeyError, IndexError, TypeError):
        if isinstance(key, str):
            return ga(obj, key)
        raise UndefinedError(f"{key!r} is undefined") from None


def to_python(node: nodes.Node) -> str:
    """Python source computing `node` over the scope `_s` (raises Unsupported)."""
    if isinstance(node, nodes.Const):
        if not isinstance(node.value, str | int | float | bool | type(None)):
            raise Unsupported
        return repr(node.value)
    if isinstance(node, nodes.Name):
        return f"_s[{node.name!r}]"  # a missing name surfaces as KeyError, see fast_compile
    if isinstance(node, nodes.Getattr):
        return f"ga({to_python(node.node)}, {node.attr!r})"
    if isinstance(node, nodes.Getitem):
        return f"gi({to_python(node.node)}, {to_python(node.arg)})"
    if isinstance(node, nodes.And):
        return f"({to_python(node.left)} and {to_python(node.right)})"
    if isinstance(node, nodes.Or):
        return f"({to_python(node.left)} or {to_python(node.right)})"
    if isinstance(node, nodes.Not):
        return f"(not {to_python(node.node)})"
    if isinstance(node, nodes.Neg):
        return f"(-{to_python(node.node)})"
    if type(node) in BIN:
        assert isinstance(node, nodes.BinExpr)
        return f"({to_python(node.left)} {BIN[type(node)]} {to_python(node.right)})"
    if isinstance(node, nodes.Compare):
        parts = [to_python(node.expr)]
        for op in node.ops:
            if op.op not in CMP:
                raise Unsupported
            parts.append(f"{CMP[op.op]} {to_python(op.expr)}")
        return "(" + " ".join(parts) + ")"
    if isinstance(node, nodes.Call):
        if node.dyn_args is not None or node.dyn_kwargs is not None:
            raise Unsupported
        args = [to_python(a) for a in node.args] + [
            f"{k.key}={to_python(k.value)}" for k in node.kwargs
        ]
        return f"{to_python(node.node)}({', '.join(args)})"
    if isinstance(node, nodes.Test) and node.name in ("none", "true", "false") and not node.args:
        value = {"none": "None", "true": "True", "false": "False"}[node.name]
        return f"({to_python(node.node)} is {value})"
    if isinstance(node, nodes.Tuple | nodes.List):
        return "(" + "".join(f"{to_python(i)}, " for i in node.items) + ")"
    if isinstance(node, nodes.CondExpr) and node.expr2 is not None:
        return f"({to_python(node.expr1)} if {to_python(node.test)} else {to_python(node.expr2)})"
    raise Unsupported


@lru_cache(maxsize=4096)
def fast_compile(source: str) -> Evaluator | None:
    """A closure evaluating `source` over a scope mapping, or None when Jinja must do it."""
    try:
        body = to_python(parse_expr(source))
    except (Unsupported, AssertionError):
        return None
    except Exception:
        return None  # syntax errors are reported by validate; Jinja raises them at run time
    code = compile(f"lambda _s: {body}", "<expression>", "eval")
    fn: Evaluator = eval(code, {"__builtins__": {}, "ga": ga, "gi": gi})

    def evaluate(scope: Mapping[str, Any]) -> Any:
        try:
            return fn(scope)
        except KeyError as exc:
            # Names are looked up directly (the hot path); report one that is missing as Jinja
            # would. Helpers never raise KeyError for their own reasons, so this is unambiguous.
            name = exc.args[0] if exc.args else None
            if isinstance(name, str) and name not in scope:
                raise UndefinedError(f"{name!r} is undefined") from None
            raise

    return evaluate


@lru_cache(maxsize=4096)
def contact_only(source: str) -> bool:
    """Whether `source` reads nothing but `contact` (no helpers, no `now`, no event): its value
    is then fixed for a contact's attributes, and the engine evaluates it once per contact."""
    if fast_compile(source) is None:
        return False
    tree = parse_expr(source)
    names = {n.name for n in find_all(tree, nodes.Name) if n.ctx == "load"}
    return names <= {"contact"} and not find_all(tree, nodes.Call)


@lru_cache(maxsize=4096)
def reads_event(source: str) -> bool:
    """Whether `source` names `event` (a trigger's `where`): its value is built only then."""
    try:
        tree = parse_expr(source)
    except Exception:
        return True  # let the evaluation report the error with everything in scope
    return any(n.name == "event" for n in find_all(tree, nodes.Name))
