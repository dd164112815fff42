"""`${NAME}` in journey.yaml channel settings: a shape at validate time, a value when used.

SPEC §2: `${NAME}` may stand for any scalar of a channel's settings, numbers and booleans
included (`port: "${SMTP_PORT}"`), as in docker compose. Validation never reads the
environment, so a typed setting (`EnvOr`) accepts the reference itself and keeps it as an
`EnvRef`. When the channel is built (channels/registry.py) each reference is resolved and
handed back to the same model wrapped in `FromEnv`; `EnvOr` then converts the variable's text
to the setting's type with that type's own validation, so an ill-typed value fails exactly
like the same literal in journey.yaml would, with the setting's name.

String settings need none of this: they stay strings and `${NAME}` is replaced inside them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# One reference: `${` + a name of letters, digits and _ (not starting with a digit) + `}`.
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Setting names whose values are secrets: validate wants them as references (literal-secret),
# and no message ever prints their values.
SECRET_KEY = re.compile(r"(password|passwd|secret|token|api_?key|username|user)$", re.I)
SECRET_HEADER = re.compile(r"(authorization|token|key|secret)", re.I)

_BOOL = re.compile(r"^(?:true|false)$", re.I)
_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


def is_secret_key(key: str) -> bool:
    """Whether a setting named `key` holds a secret (password, secret, token, user...)."""
    return bool(SECRET_KEY.search(key) or SECRET_HEADER.search(key))


class EnvRef(str):
    """A setting's text as written, naming environment variables: read when the channel is
    built, never by validate, simulate or any other command that only reads the project."""

    __slots__ = ()

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(ENV_REF.findall(self))


@dataclass(frozen=True, slots=True)
class FromEnv:
    """The environment's text for a referenced setting, on its way back into the model."""

    text: str
    ref: EnvRef


def env_scalar(text: str) -> Any:
    """An environment variable's text typed as journey.yaml types a plain scalar.

    >>> env_scalar("587"), env_scalar(" true "), env_scalar("2.5"), env_scalar("abc")
    (587, True, 2.5, 'abc')
    """
    stripped = text.strip()
    if _BOOL.match(stripped):
        return stripped.lower() == "true"
    if _INT.match(stripped):
        return int(stripped)
    if _FLOAT.match(stripped):
        return float(stripped)
    return text


def _as_written(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class EnvOr:
    """Annotated metadata: a setting of type `inner`, or `${NAME}` standing for it.

    `text=True` for string-typed settings with constraints (`rate`): references may be
    embedded (`"${PER_SECOND}/s"`) and the resolved text is checked as a literal would be.
    Otherwise the reference must be the whole value, and the variable's text is typed as a
    YAML scalar (`587`, `true`, `2.5`) before `inner` validates it.
    """

    inner: Any
    text: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_wrap_validator_function(
            self._validate,
            handler.generate_schema(self.inner),
            serialization=core_schema.plain_serializer_function_ser_schema(_as_written),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        reference: JsonSchemaValue = {
            "type": "string",
            "pattern": ENV_REF.pattern if self.text else f"^{ENV_REF.pattern}$",
            "description": "${NAME}: read from the environment when the channel is used",
        }
        return {"anyOf": [handler(schema), reference]}

    def _validate(self, value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, FromEnv):
            return handler(value.text if self.text else env_scalar(value.text))
        if isinstance(value, str) and "${" in value:
            if self.text or ENV_REF.fullmatch(value) or "${" in ENV_REF.sub("", value):
                # (a malformed reference is validate's `bad-env-ref`, reported once there)
                return EnvRef(value)
            raise PydanticCustomError(
                "env_ref_not_whole",
                "{ref} must be the whole value of this setting, not part of it",
                {"ref": "`${NAME}`"},
            )
        return handler(value)
