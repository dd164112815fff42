"""Which files make up a project: the one definition the loader and the fingerprint share.

Stdlib only and cheap: the idle cron minute imports it (spec.fingerprint).
"""

from __future__ import annotations

import os

PROJECT_FILE = "journey.yaml"
TEMPLATES_DIR = "templates"
_SEQUENCE_SUFFIXES = (".yaml", ".yml")


def is_sequence_name(name: str) -> bool:
    """A top-level file of this name is a sequence file: *.yaml or *.yml except journey.yaml
    and journey.yml."""
    return os.path.splitext(name)[1] in _SEQUENCE_SUFFIXES and name not in (
        PROJECT_FILE,
        "journey.yml",
    )
