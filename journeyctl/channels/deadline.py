"""One deadline for a whole delivery: connect, send and the complete reply, not each read.

A socket timeout bounds one blocking call. A peer that trickles a header line (or one byte)
just inside it keeps a delivery alive for ever, and with it the run and its lock. The
channels start a `Deadline` per delivery and give the socket, before every send and every
read, only the time left: the delivery ends, as a timeout, when the deadline passes, however
the peer paces its bytes.

What stays outside: name resolution (getaddrinfo has no timeout of ours; the system
resolver's own, typically a few seconds, applies).
"""

from __future__ import annotations

import io
import math
import socket
import time
from typing import Any

# Longest accepted `timeout:` of a channel, in seconds. Also keeps the socket timeouts
# representable (a timeout of 1e300 does not fit the C timeval: OverflowError, not OSError).
MAX_TIMEOUT = 3600.0


def check_timeout(name: str, timeout: float) -> str | None:
    """Why `timeout` is unusable for channel `name`, or None when it is fine."""
    if not 0 < timeout <= MAX_TIMEOUT:  # also refuses NaN
        return (
            f"channel {name!r}: timeout {timeout!r} must be more than 0 and at most "
            f"{MAX_TIMEOUT:g} seconds"
        )
    return None


class Deadline:
    """When the delivery in progress must be over, on the monotonic clock."""

    __slots__ = ("at", "hit", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = math.inf
        self.hit = False  # a send or read stopped because the deadline passed

    def start(self) -> None:
        """A new delivery (or connect, or QUIT) starts now: `seconds` from now."""
        self.at = time.monotonic() + self.seconds
        self.hit = False

    def remaining(self) -> float:
        """Seconds left; TimeoutError (an OSError) once the deadline has passed."""
        left = self.at - time.monotonic()
        if left <= 0:
            self.hit = True
            raise TimeoutError(f"no complete reply within {self.seconds:g}s")
        return left

    def arm(self, sock: socket.socket) -> None:
        """Let the socket's next blocking call wait only until the deadline."""
        sock.settimeout(self.remaining())

    def timed_out(self, exc: BaseException) -> bool:
        """Whether `exc` (or what it was raised from) is this deadline passing."""
        if self.hit:
            return True
        seen: BaseException | None = exc
        for _ in range(8):  # library wrappers (smtplib) chain the socket's TimeoutError
            if seen is None:
                break
            if isinstance(seen, TimeoutError):
                return True
            seen = seen.__cause__ or seen.__context__
        return False


class DeadlineReader(io.RawIOBase):
    """The socket's raw reader, each read waiting only for what is left of the deadline.

    Wraps the socket's own `makefile("rb", buffering=0)` reader, so the socket's reference
    counting of open files (close is deferred while a response is still being read) is kept.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._sock, self._deadline = sock, deadline
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._deadline.arm(self._sock)
        try:
            return self._raw.readinto(buffer)
        except TimeoutError:
            self._deadline.hit = True
            raise

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def deadline_file(sock: socket.socket, deadline: Deadline) -> io.BufferedReader:
    """What `sock.makefile("rb")` returns, with every read bounded by `deadline`."""
    return io.BufferedReader(DeadlineReader(sock, deadline))


class DeadlineSocket:
    """The socket http.client holds: `sendall` and the response's reads stop at the deadline;
    everything else passes through to the real socket."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self.sock, self.deadline = sock, deadline

    def sendall(self, data: Any) -> None:
        # One sendall (plain or TLS) waits at most its timeout in total, not per chunk.
        self.deadline.arm(self.sock)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            self.deadline.hit = True
            raise

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return deadline_file(self.sock, self.deadline)

    def close(self) -> None:
        self.sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)
