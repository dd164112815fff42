"""Run the listener on uvicorn beside the scheduler (`journeyctl serve --http`).

uvicorn serves on its own thread; the main thread keeps the signals (run/serve.py): on
SIGTERM the scheduler finishes its tick, then uvicorn stops accepting, finishes the requests
in flight (each answered after its commit), and the writer commits what it was given.
The socket is bound here, before anything else starts, so a taken port is a clear error
(exit 2) and `--http 127.0.0.1:0` can print the port it got.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from journeyctl.engine.tokens import key_ring
from journeyctl.errors import UsageError
from journeyctl.listener.app import Config, create_app
from journeyctl.spec.project import Project

GRACE_SECONDS = 30  # in-flight requests get this long after SIGTERM


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:8080` for IPv6) -> (host, port); UsageError when it is not."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--http: {text!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return host, int(port)


def require_keys(project: Project, keys: Mapping[str | None, bytes]) -> None:
    """The listener checks signed links: refuse to start when some channel's links would be
    checked against no key at all (the same rule and advice as `run`)."""
    from journeyctl.spec.unsubscribe import SETTING, SUGGESTED_VARIABLE, refuse_forgeable_links

    refuse_forgeable_links(project, keys)
    project_key = key_ring(keys.get(None, b""))
    unkeyed = [name for name in project.settings.channels if not key_ring(keys.get(name, b""))]
    if not project_key and unkeyed:
        raise UsageError(
            f"refusing to listen: the links the listener checks are signed with {SETTING}, "
            f"which is empty or missing for channel(s) {', '.join(unkeyed)}; add "
            f'{SETTING}: "${{{SUGGESTED_VARIABLE}}}" to journey.yaml and set '
            f"{SUGGESTED_VARIABLE} to a long random value"
        )


def configure_logging() -> None:
    """The access log and uvicorn's own lines on stderr, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    for name in ("journeyctl.listener.access", "uvicorn.error"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(logging.INFO)
        log.propagate = False


class Listener:
    """The app on uvicorn, on a thread of its own."""

    def __init__(self, config: Config) -> None:
        import uvicorn

        from journeyctl.listener.writer import Writer

        self.config = config
        config.writer = config.writer or Writer(config.db)
        self.writer = config.writer
        self.app = create_app(config)
        self._uvicorn = uvicorn
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.address = ""

    def start(self, host: str, port: int) -> str:
        """Bind, open the store, serve; returns the URL served (the port bound for :0)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise UsageError(f"--http: cannot listen on {host}:{port}: {exc.strerror}") from None
        sock.listen(2048)
        try:
            self.writer.start()  # a bad --db stops here, before anything is accepted
        except BaseException:
            sock.close()
            raise
        config = self._uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,  # ours (app.AccessLog) leaves the tokens out
            lifespan="on",
            timeout_graceful_shutdown=GRACE_SECONDS,
            server_header=False,
        )
        server = self._server = self._uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="journeyctl-http", daemon=True
        )
        self._thread.start()
        while not server.started and self._thread.is_alive():
            self._thread.join(0.02)
        if not server.started:
            self.writer.close()
            raise UsageError(f"--http: the listener did not start on {host}:{port}")
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if family == socket.AF_INET6 else bound_host
        self.address = f"http://{shown}:{bound_port}"
        return self.address

    def stop(self) -> None:
        """Stop accepting, finish the requests in flight, commit what they gave."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join()
        self.writer.close()


def start_listener(
    project: Project,
    db: str | Path,
    address: str,
    clock: Callable[[], datetime],
    env: Mapping[str, str],
) -> Listener:
    """`serve --http ADDRESS`: check the keys and the address, open the store, serve.
    Secrets come from the environment only: the links' keys (unsubscribe_secret) and
    JOURNEYCTL_API_TOKEN for the /v1 endpoints (unset: they answer 503)."""
    from journeyctl.channels.registry import unsubscribe_keys

    host, port = parse_address(address)
    keys = unsubscribe_keys(project.settings, env)  # an unset ${VAR}: exit 2, said why
    require_keys(project, keys)
    configure_logging()
    config = Config(
        project.settings,
        db,
        keys,
        api_token=env.get("JOURNEYCTL_API_TOKEN") or None,
        clock=clock,
    )
    listener = Listener(config)
    listener.start(host, port)
    return listener
