"""Which channels' messages carry a one-click unsubscribe link, and whether its key is set.

Every marketing message (any sequence not `transactional: true`) carries the link in its
record: the List-Unsubscribe header of email, `unsubscribe_url` in webhook bodies and
outbox lines. So does any message whose content names `unsubscribe_url`. The link's token is
an HMAC of the contact id keyed with the channel's `unsubscribe_secret`, else the project's
(channels.registry.unsubscribe_keys): with an empty key anyone can compute any contact's
link. `run` and `serve` refuse to start then (`refuse_forgeable_links`, exit 2) and
`validate` warns (`forgeable_link_warnings`, code `no-unsubscribe-secret`); `simulate`,
`preview`, `explain` and `run --dry-run` deliver nothing and keep working without a key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from journeyctl.diagnostics import Diagnostic, warning
from journeyctl.errors import UsageError
from journeyctl.spec.models import Send
from journeyctl.spec.project import Project
from journeyctl.spec.walk import iter_steps
from journeyctl.spec.yamlsrc import leaves

SETTING = "unsubscribe_secret"
SUGGESTED_VARIABLE = "UNSUBSCRIBE_SECRET"
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_RANDOM = "a long random value (e.g. `openssl rand -hex 32`)"


def token_channels(project: Project) -> dict[str, str]:
    """Channel name -> the first sequence (in load order) whose messages through it carry
    an unsubscribe link."""
    out: dict[str, str] = {}
    files_name_it: bool | None = None
    for seq in project.sequences.values():
        marketing = seq.model.is_marketing
        for step, _ in iter_steps(seq.model.steps):
            if not isinstance(step, Send):
                continue
            channel = step.channel or next(iter(project.settings.channels), None)
            if channel is None or channel in out:
                continue
            if not marketing:  # as engine.render.Renderer._uses_unsubscribe decides
                if files_name_it is None:
                    files_name_it = _templates_name_unsubscribe(project)
                inline = (step.subject or "") + (step.body or "")
                if not files_name_it and "unsubscribe_url" not in inline:
                    continue
            out[channel] = seq.id
    return out


def _templates_name_unsubscribe(project: Project) -> bool:
    root = project.templates_dir
    return root.is_dir() and any(
        "unsubscribe_url" in p.read_text(encoding="utf-8", errors="replace")
        for p in root.rglob("*")
        if p.is_file() and not leaves(project.root, p)  # never read out of the project
    )


def _setting(project: Project, channel: str) -> tuple[str, str | None]:
    """The setting that keys `channel`'s tokens (its name in journey.yaml) and its raw value."""
    own = getattr(project.settings.channels.get(channel), SETTING, None)
    if own is not None:
        return f"channels.{channel}.{SETTING}", own
    return SETTING, project.settings.unsubscribe_secret


def refuse_forgeable_links(project: Project, keys: Mapping[str | None, bytes]) -> None:
    """UsageError (exit 2) when a channel whose messages carry unsubscribe links would sign
    them with an empty key. `keys`: channels.registry.unsubscribe_keys, resolved."""
    for channel, sequence in token_channels(project).items():
        if keys.get(channel, keys.get(None, b"")).strip():
            continue
        setting, raw = _setting(project, channel)
        what = (
            f"sequence '{sequence}' sends unsubscribe links (channel '{channel}') that anyone "
            "could forge"
        )
        names = _REF.findall(raw or "")
        if raw is None:
            raise UsageError(
                f"refusing to send: {what}, since journey.yaml has no {SETTING}; add "
                f'{SETTING}: "${{{SUGGESTED_VARIABLE}}}" to journey.yaml and set '
                f"{SUGGESTED_VARIABLE} to {_RANDOM}"
            )
        if names:
            empty = " and ".join(f'{n}=""' for n in names)
            raise UsageError(
                f"refusing to send: {what}, since {setting} is empty ({empty} in the "
                f"environment); set {' and '.join(names)} to {_RANDOM}"
            )
        raise UsageError(
            f"refusing to send: {what}, since {setting} is empty in journey.yaml; write "
            f'{setting.rpartition(".")[2]}: "${{{SUGGESTED_VARIABLE}}}" and set '
            f"{SUGGESTED_VARIABLE} to {_RANDOM}"
        )


def forgeable_link_warnings(project: Project) -> Iterator[Diagnostic]:
    """validate: a channel whose messages carry unsubscribe links has no secret in
    journey.yaml (none, or an empty literal). `${NAME}` counts as one: validate does not
    read the environment, and `run` checks the value."""
    src = project.settings_source
    if src is None or not isinstance(src.data, dict) or any(d.is_error for d in src.diagnostics):
        return  # (journey.yaml failed to load: its defaults would be a false alarm)
    reported: set[str] = set()
    for channel, sequence in token_channels(project).items():
        setting, raw = _setting(project, channel)
        if (raw or "").strip() or setting in reported:
            continue
        reported.add(setting)
        if raw is None:
            where = ("unsubscribe_url",) if "unsubscribe_url" in src.data else ()
            loc = src.locate(where, at_key=True)
            message = (
                f"no {SETTING}: anyone can compute any contact's unsubscribe link (sequence "
                f"'{sequence}' sends them); `run` refuses to start without one"
            )
        else:
            loc = src.scalar_location(tuple(setting.split(".")))
            message = (
                f"{setting} is empty: anyone can compute any contact's unsubscribe link "
                f"(sequence '{sequence}' sends them); `run` refuses to start"
            )
        yield warning(
            loc,
            "no-unsubscribe-secret",
            message,
            f'write {SETTING}: "${{{SUGGESTED_VARIABLE}}}" and set {SUGGESTED_VARIABLE} to '
            "a long random value",
        )
