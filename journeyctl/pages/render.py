"""`render_page`: a page's template inside the base page, every asset inlined."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from journeyctl.pages.assets import asset, library
from journeyctl.pages.texts import TEXTS


def json_script(value: object) -> Markup:
    """JSON that can sit inside <script type="application/json"> whatever its strings hold."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return Markup(text)


def number(n: object) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def percent(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}%"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = number
    env.filters["percent"] = percent
    env.globals["inline"] = lambda relative: Markup(asset(relative))
    env.globals["library"] = lambda name: Markup(library(name))
    env.globals["json_script"] = json_script
    return env


def render_page(kind: str, data: Mapping[str, Any], lang: str) -> str:
    """The page `templates/<kind>.html.j2` with `data` as its context, labels in `lang`
    (ko or en). `data["charts"]` (id -> Chart.js config) feeds the `chart` component;
    `data["libraries"]` names the libraries to inline (default: chart and mermaid)."""
    context = {"charts": {}, "libraries": ("chart", "mermaid"), **data}
    return (
        _environment().get_template(f"{kind}.html.j2").render(**context, t=TEXTS[lang], lang=lang)
    )
