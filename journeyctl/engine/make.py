"""The engine `run`, `serve`, `simulate`, `explain`, `preview` and `test` use, built from a
loaded project (with or without a renderer).
"""

from __future__ import annotations

from collections.abc import Mapping

from journeyctl.engine.advance import Assumptions, Engine
from journeyctl.engine.render import Renderer
from journeyctl.spec.project import Project


def make_engine(
    project: Project,
    *,
    render: bool = True,
    subjects_only: bool = False,
    assumptions: Assumptions | None = None,
    env: Mapping[str, str] | None = None,
    delivering: bool | None = None,
) -> Engine:
    """The engine `run`, `serve` and `simulate` use. `env` resolves the unsubscribe secrets
    (`run` and `serve` pass the environment; without it tokens use an empty key).

    `delivering` (default: when `env` is given): the links will reach people, so a channel
    whose messages carry unsubscribe links must have a non-empty secret; UsageError (exit 2)
    otherwise, before anything is imported or claimed (spec.unsubscribe)."""
    renderer = None
    if render:
        from journeyctl.channels.registry import unsubscribe_keys

        keys = unsubscribe_keys(project.settings, env) if env is not None else {}
        if delivering is None:
            delivering = env is not None
        if delivering:
            from journeyctl.spec.unsubscribe import refuse_forgeable_links

            refuse_forgeable_links(project, keys)
        from journeyctl.engine.links import Links

        renderer = Renderer(
            project.templates_dir,
            project.settings,
            subjects_only=subjects_only,
            unsubscribe_keys=keys,
            links=Links.for_project(project.settings, keys),
            fingerprint=project.manifest.fingerprint,
        )
    return Engine(project, renderer=renderer, assumptions=assumptions)
