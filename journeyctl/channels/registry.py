"""`type:` -> channel class, `${NAME}` resolution, and lazy construction of configured channels.

SPEC §2: an unset variable is an error when the channel is used, not at validate time, so
`build_channels` returns a mapping that builds each channel on first access. Channel modules
are imported on first use too: an idle cron tick should not pay for smtplib or http.client.
A reference standing for a typed setting (`port: "${SMTP_PORT}"`) is converted to the
setting's type by the model itself (spec/envref.py); an ill-typed value is a ChannelConfigError
naming the channel, the setting and the variable, never a secret's value.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from journeyctl.channels.base import (
    Channel,
    ChannelConfigError,
    EnvValueError,
    UnsetVariableError,
)
from journeyctl.spec.envref import ENV_REF, EnvRef, FromEnv, is_secret_key
from journeyctl.spec.models import ChannelConfig, ProjectSettings

# The pattern validate's `bad-env-ref` / `literal-secret` checks use too (spec/envref.py).
ENV_REFERENCE = ENV_REF

# type: -> "module:Class"; each class has from_config(name, resolved_config, base_dir=...).
CHANNEL_TYPES: dict[str, str] = {
    "smtp": "journeyctl.channels.smtp:SmtpSender",
    "webhook": "journeyctl.channels.webhook:WebhookSender",
    "file": "journeyctl.channels.outbox:FileOutbox",
}


def resolve_env(value: str, env: Mapping[str, str]) -> str:
    """Replace every `${NAME}` in `value` from `env`; UnsetVariableError names the first unset.

    >>> resolve_env("smtp://${HOST}:25", {"HOST": "mx.example.com"})
    'smtp://mx.example.com:25'
    """

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise UnsetVariableError(f"environment variable {name} is not set", name)
        return env[name]

    return ENV_REFERENCE.sub(one, value) if "${" in value else value


def _resolve_all(data: Any, env: Mapping[str, str], where: str) -> Any:
    """`${NAME}` replaced in every string of `data`; a reference standing for a typed setting
    (an EnvRef) comes back as FromEnv, for the model to convert."""
    if isinstance(data, str):
        try:
            text = resolve_env(data, env)
        except UnsetVariableError as exc:
            raise UnsetVariableError(
                f"{where} uses ${{{exc.variable}}}, but the environment variable "
                f"{exc.variable} is not set; export it before running",
                exc.variable,
            ) from None
        return FromEnv(text, data) if isinstance(data, EnvRef) else text
    if isinstance(data, dict):
        return {k: _resolve_all(v, env, f"{where}.{k}") for k, v in data.items()}
    if isinstance(data, list):
        return [_resolve_all(v, env, f"{where}[{i}]") for i, v in enumerate(data)]
    return data


def channel_class(type_name: str) -> Any:
    try:
        module, _, cls = CHANNEL_TYPES[type_name].partition(":")
    except KeyError:
        raise ChannelConfigError(
            f"unknown channel type {type_name!r}; use one of {', '.join(sorted(CHANNEL_TYPES))}"
        ) from None
    return getattr(importlib.import_module(module), cls)


def build_channel(
    name: str, config: ChannelConfig, env: Mapping[str, str], *, base_dir: Path
) -> Channel:
    """Build one configured channel now (resolving `${NAME}`), rate-limited if it says so."""
    data = resolved_config(name, config, env).model_dump(by_alias=False)
    cls = channel_class(data["type"])
    channel: Channel = cls.from_config(name, data, base_dir=base_dir)
    if data.get("rate"):
        from journeyctl.channels.rate import RateLimited, TokenBucket, parse_rate

        channel = RateLimited(channel, TokenBucket(parse_rate(data["rate"])))
    return channel


def resolved_config(name: str, config: ChannelConfig, env: Mapping[str, str]) -> ChannelConfig:
    """`config` with every `${NAME}` read from `env` and typed as its setting says.

    UnsetVariableError names the first unset variable; EnvValueError a value the setting
    cannot take (`SMTP_PORT=abc` for `port`), showing the value unless the setting is secret.
    """
    where = f"channel {name!r}: field"
    data = _resolve_all(config.model_dump(by_alias=True), env, where)
    try:
        return type(config).model_validate(data)
    except ValidationError as exc:
        raise _value_error(where, data, exc.errors(include_url=False)[0]) from None


# What a setting wanted, by pydantic's error type, for an environment value that was not it.
_EXPECTED = {
    "int_parsing": "a whole number (e.g. 587)",
    "int_type": "a whole number (e.g. 587)",
    "int_from_float": "a whole number (e.g. 587)",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "float_parsing": "a number (e.g. 30 or 2.5)",
    "float_type": "a number (e.g. 30 or 2.5)",
}


def _value_error(where: str, data: dict[str, Any], err: ErrorDetails) -> ChannelConfigError:
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    value: Any = data
    for part in loc:
        value = value.get(part) if isinstance(value, dict) else None
    if key == "rate":
        expected = "a rate like 50/s, 300/m or 1000/h"
    else:
        msg = err["msg"]
        expected = _EXPECTED.get(err["type"], f"valid there ({msg[:1].lower()}{msg[1:]})")
    if not isinstance(value, FromEnv):  # not expected: validate checked the literals
        return ChannelConfigError(f"{where}.{key}: the value is not {expected}")
    variables = value.ref.variables
    secret = any(is_secret_key(p) for p in loc if isinstance(p, str))
    if value.ref == f"${{{variables[0]}}}":
        got = f"{variables[0]}=" + ("(a secret, not shown)" if secret else repr(value.text))
    else:
        got = ("the value it gives" if len(variables) == 1 else "the value they give") + (
            "" if secret else f", {value.text!r},"
        )
    names = ", ".join(f"${{{v}}}" for v in variables)
    return EnvValueError(f"{where}.{key} uses {names}, but {got} is not {expected}", variables[0])


class UnknownChannelError(ChannelConfigError, KeyError):
    """A KeyError too, so Mapping.get() works; prints as a sentence, not a repr."""

    __str__ = Exception.__str__


class Channels(Mapping[str, Channel]):
    """The project's channels by name, each built on first access and then reused."""

    def __init__(
        self, configs: Mapping[str, ChannelConfig], env: Mapping[str, str], *, base_dir: Path
    ) -> None:
        self._configs = dict(configs)
        self._env = env
        self._base_dir = base_dir
        self._built: dict[str, Channel] = {}

    def __getitem__(self, name: str) -> Channel:
        channel = self._built.get(name)
        if channel is None:
            if name not in self._configs:
                raise UnknownChannelError(
                    f"no channel named {name!r}; journey.yaml defines "
                    f"{', '.join(sorted(self._configs)) or 'none'}"
                )
            channel = build_channel(name, self._configs[name], self._env, base_dir=self._base_dir)
            self._built[name] = channel
        return channel

    def __contains__(self, name: object) -> bool:  # without building (Mapping's would build)
        return name in self._configs

    def __iter__(self) -> Iterator[str]:
        return iter(self._configs)

    def __len__(self) -> int:
        return len(self._configs)

    def medium(self, name: str) -> str:
        """The channel's medium from its config, without building it."""
        return self._configs[name].medium

    @property
    def built(self) -> dict[str, Channel]:
        return dict(self._built)

    def close(self) -> None:
        """Close every channel built so far (each close is idempotent)."""
        for channel in self._built.values():
            channel.close()

    def __enter__(self) -> Channels:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_channels(
    settings: ProjectSettings, env: Mapping[str, str], *, base_dir: Path
) -> Channels:
    """The channels of journey.yaml, built lazily; `base_dir` anchors relative outbox paths."""
    return Channels(settings.channels, env, base_dir=base_dir)


def unsubscribe_keys(settings: ProjectSettings, env: Mapping[str, str]) -> dict[str | None, bytes]:
    """The keys that sign one-click unsubscribe tokens: the project's (under None) and each
    channel's own `unsubscribe_secret`, `${NAME}` resolved. A project without a secret signs
    with an empty key (validate warns: such tokens can be forged). An unset variable raises
    UnsetVariableError: better no run than links anyone could compute."""
    keys: dict[str | None, bytes] = {}
    sources: list[tuple[str | None, str | None, str]] = [
        (None, settings.unsubscribe_secret, "unsubscribe_secret")
    ]
    for name, cfg in settings.channels.items():
        sources.append((name, getattr(cfg, "unsubscribe_secret", None), f"channels.{name}"))
    for channel, secret, where in sources:
        if secret is not None:
            keys[channel] = _resolve_all(secret, env, where).encode()
    keys.setdefault(None, b"")
    return keys
