"""The sandboxed template environment: StrictUndefined, autoescape for HTML, files under templates/.

Contact data is data: values are passed as variables and never compiled as templates.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, Undefined, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

# names every message template may use (SPEC §2)
TEMPLATE_SCOPE = frozenset({"contact", "sequence", "step", "unsubscribe_url", "sender", "now"})
# Everything `getattr` finds on a plain dict (its methods and object's): a plain dict has no
# instance attributes, so any other name is not an attribute of it.
_DICT_ATTRIBUTES = frozenset(dir({}))


def _blank(value: Any) -> Any:
    """Empty is empty: a contact's missing or empty value prints as nothing, not "None"."""
    return "" if value is None else value


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's `default`, also for the empty values a contact export has (None, ""), so
    `{{ contact.name | default('고객') }}` greets an unnamed contact as users expect."""
    if value is None or value == "" or isinstance(value, Undefined) or (boolean and not value):
        return default_value
    return value


class _Sandbox(ImmutableSandboxedEnvironment):
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


@lru_cache(maxsize=64)
def template_environment(templates_dir: Path) -> ImmutableSandboxedEnvironment:
    return _Sandbox(
        loader=FileSystemLoader(str(templates_dir)),
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


def file_template(templates_dir: Path, name: str) -> Template:
    return template_environment(templates_dir).get_template(name)


def is_html(name: str) -> bool:
    return name.removesuffix(".j2").endswith((".html", ".htm"))
