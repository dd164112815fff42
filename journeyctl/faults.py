"""Test-only fault injection at named points of the delivery path (docs/RELIABILITY.md).

`JOURNEYCTL_FAULT=<point>:<n>` makes the process kill itself with SIGKILL the n-th time it
reaches `<point>` (no cleanup, no `finally`, no flush: a `kill -9` at a known place, so a
crash test does not depend on the machine's speed). `JOURNEYCTL_FAULT_TRACE=<file>` appends
the name of every point reached to `<file>`, one a line, so a test can learn how often a
clean run reaches each point and choose n from it.

Both are read once, at import. Unset (always, outside tests), `point` is a function that
returns at once.

Points, in the order a run meets them:

- `migration`: inside the schema migration, its statements run, before its COMMIT.
- `import`: contacts and events written, before the import's COMMIT.
- `advance`: a batch of decisions (messages rendered) written, before its COMMIT.
- `advance-commit`: after that COMMIT (in a run without `--limit`, the batch's messages are
  committed `attempting`, not yet handed to a channel).
- `claim`: after the claim COMMIT (`planned` -> `attempting`), before any delivery.
- `attempting`: a claimed message about to be handed to its channel.
- `mid-send`: inside a channel's delivery: the webhook request sent, its response not read;
  the SMTP message and its final dot sent, the reply not read; the outbox line written, not
  fsynced.
- `after-accept`: the channel accepted the message; the `sent` mark not written.
- `after-record`: after the COMMIT holding the `sent` mark(s).
- `recover`: messages left `attempting` by a dead run re-queued or reconciled, before COMMIT.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

POINTS = (
    "migration",
    "import",
    "advance",
    "advance-commit",
    "claim",
    "attempting",
    "mid-send",
    "after-accept",
    "after-record",
    "recover",
)
# The points where a kill may leave the receiver holding a message the ledger does not record
# as sent: the documented window of one repeat per crash (SPEC §5), for channels that cannot
# tell whether they already have a message (SMTP, webhooks).
REPEAT_WINDOW = frozenset({"mid-send", "after-accept"})


def _parse(value: str) -> tuple[str, int]:
    name, sep, count = value.rpartition(":")
    if not sep or name not in POINTS or not count.isascii() or not count.isdigit():
        raise ValueError(
            f"JOURNEYCTL_FAULT={value!r}: expected <point>:<n> with n >= 1 and point one of "
            + ", ".join(POINTS)
        )
    if int(count) < 1:
        raise ValueError(f"JOURNEYCTL_FAULT={value!r}: n counts from 1")
    return name, int(count)


def _off(name: str) -> None:
    """No fault armed: nothing to do."""


def _armed(target: tuple[str, int] | None, trace: int | None) -> Callable[[str], None]:
    left = {target[0]: target[1]} if target is not None else {}

    def point(name: str) -> None:
        if trace is not None:
            os.write(trace, f"{name}\n".encode())
        n = left.get(name)
        if n is None:
            return
        if n > 1:
            left[name] = n - 1
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return point


def _setup() -> Callable[[str], None]:
    value = os.environ.get("JOURNEYCTL_FAULT")
    trace_path = os.environ.get("JOURNEYCTL_FAULT_TRACE")
    if not value and not trace_path:
        return _off
    target = _parse(value) if value else None
    trace = None
    if trace_path:
        trace = os.open(trace_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return _armed(target, trace)


# Reach the named point: a no-op unless JOURNEYCTL_FAULT or JOURNEYCTL_FAULT_TRACE is set.
point: Callable[[str], None] = _setup()
