"""The console script and `python -m journeyctl`: a plain `run` is first offered to the idle
minute (run.idle), which answers it without loading the project when nothing is due; every
other command, and every `run` it cannot answer for sure, goes to the CLI."""

from __future__ import annotations

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    fingerprint = None
    if argv[:1] == ["run"]:
        from journeyctl.run.idle import DISABLE_ENV, attempt

        if os.environ.get(DISABLE_ENV) != "1":
            code, fingerprint = attempt(argv[1:])
            if code is not None:
                sys.exit(code)
    from journeyctl.cli import main as cli_main

    cli_main(fingerprint=fingerprint)


if __name__ == "__main__":
    main()
