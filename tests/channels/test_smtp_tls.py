"""SmtpSender over STARTTLS and implicit TLS against aiosmtpd with a throwaway certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from channel_servers import CountingController, SmtpRecorder, authenticate, free_port

from journeyctl.channels.smtp import SmtpSender
from journeyctl.engine.model import Message
from journeyctl.errors import TransientChannelError

MessageFactory = Callable[..., Message]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _server(
    certificate: tuple[Path, Path], *, implicit: bool
) -> Iterator[tuple[SmtpRecorder, int]]:
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    recorder = SmtpRecorder()
    port = free_port()
    options: dict = (
        {"ssl_context": server_context}
        if implicit
        else {"tls_context": server_context, "require_starttls": True}
    )
    controller = CountingController(
        recorder, hostname="127.0.0.1", port=port, authenticator=authenticate, **options
    )
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[SmtpRecorder, int]]:
    yield from _server(certificate, implicit=False)


@pytest.fixture
def smtps_server(certificate: tuple[Path, Path]) -> Iterator[tuple[SmtpRecorder, int]]:
    yield from _server(certificate, implicit=True)


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_starttls_with_login(
    starttls_server: tuple[SmtpRecorder, int],
    certificate: tuple[Path, Path],
    message: MessageFactory,
) -> None:
    recorder, port = starttls_server
    channel = SmtpSender(
        "email",
        host="127.0.0.1",
        port=port,
        starttls=True,
        username="mailer",
        password="s3cret",
        from_="a@brand.test",
        timeout=5,
        ssl_context=trusting(certificate),
    )
    channel.deliver(message())
    channel.close()
    assert [r.rcpt_tos for r in recorder.received] == [["ada@example.com"]]


def test_starttls_verifies_the_certificate(
    starttls_server: tuple[SmtpRecorder, int], message: MessageFactory
) -> None:
    recorder, port = starttls_server
    # The default context trusts the system CAs only, not our self-signed certificate.
    channel = SmtpSender("email", host="127.0.0.1", port=port, starttls=True, from_="a@b.test")
    with pytest.raises(TransientChannelError, match="CERTIFICATE_VERIFY_FAILED"):
        channel.deliver(message())
    assert recorder.received == []


def test_without_starttls_the_server_refuses(
    starttls_server: tuple[SmtpRecorder, int], message: MessageFactory
) -> None:
    recorder, port = starttls_server
    channel = SmtpSender("email", host="127.0.0.1", port=port, from_="a@b.test", timeout=5)
    with pytest.raises(TransientChannelError, match="530"):  # "Must issue a STARTTLS command first"
        channel.deliver(message())
    assert recorder.received == []


def test_implicit_tls(
    smtps_server: tuple[SmtpRecorder, int],
    certificate: tuple[Path, Path],
    message: MessageFactory,
) -> None:
    recorder, port = smtps_server
    channel = SmtpSender(
        "email",
        host="127.0.0.1",
        port=port,
        ssl=True,
        from_="a@brand.test",
        timeout=5,
        ssl_context=trusting(certificate),
    )
    channel.deliver(message())
    channel.deliver(message(key="k2"))
    channel.close()
    assert len(recorder.received) == 2
    assert recorder.connections == 2  # the controller's own probe + ours, reused
