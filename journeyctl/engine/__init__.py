"""The pure engine. Its hot modules run compiled when a current build exists (engine.native)."""

from journeyctl.engine.native import activate

NATIVE = activate(__path__)
