"""The pure engine. Its hot modules run compiled in a wheel built by mypyc (engine.native)."""

from journeyctl.engine.native import compiled_modules

NATIVE = bool(compiled_modules())
