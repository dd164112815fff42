"""Email over SMTP: one connection per batch, one recipient per message, failures classified.

Classification (the runtime owns retry policy): anything up to and including MAIL FROM
(connect, TLS, login, sender refused), 530, timeouts, disconnects and 4xx replies are
transient; other 5xx replies are permanent, and recipient-related ones (550/551/553 at RCPT,
enhanced 5.1.x) are bounces that suppress the contact.

`timeout:` is one deadline per delivery (reconnecting, MAIL, RCPT, DATA and every reply),
not a limit per socket read: a server that trickles a reply line by line cannot hold the
run (channels/deadline.py).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl as ssl_module
from pathlib import Path
from typing import Any

from journeyctl import faults
from journeyctl.channels.base import ChannelConfigError, Receipt
from journeyctl.channels.deadline import Deadline, check_timeout, deadline_file
from journeyctl.channels.mime import Originator, build_email
from journeyctl.clock import Clock, SystemClock
from journeyctl.engine.model import Message
from journeyctl.errors import PermanentChannelError, TransientChannelError

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_RECIPIENT_CODES = frozenset({550, 551, 553})


def classify_reply(code: int, reply: bytes | str, stage: str) -> Exception:
    """The channel error for an SMTP reply `code` received at `stage` (MAIL, RCPT, DATA)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    detail = f"SMTP {stage} refused: {code} {text}".strip()
    if 400 <= code < 500:
        return TransientChannelError(detail)
    if stage == "MAIL" or code == 530:
        # The sender or the session is refused (530: STARTTLS or login required): every
        # message would fail the same way, so keep them queued until the config is fixed.
        return TransientChannelError(
            f"{detail} (check the channel's from, username/password and starttls settings)"
        )
    if 500 <= code < 600:
        enhanced = _ENHANCED.match(text)
        if enhanced:  # the enhanced code is more precise than the basic one (RFC 3463)
            bounce = enhanced.group(2) == "1"
        else:
            bounce = code in _RECIPIENT_CODES and stage == "RCPT"
        return PermanentChannelError(detail, bounce=bounce)
    return TransientChannelError(f"SMTP {stage}: unexpected reply {code} {text}")


class _DeadlineSMTP(smtplib.SMTP):
    """smtplib whose connect, sends and reply reads all end by the channel's deadline."""

    def __init__(self, deadline: Deadline, *args: Any, **kwargs: Any) -> None:
        self._deadline = deadline  # before super().__init__: it connects and reads the greeting
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # SMTP_SSL's handshake happens in here too, bounded as a whole by the socket timeout.
        return super()._get_socket(host, port, self._deadline.remaining())  # type: ignore[misc]

    def send(self, s: Any) -> None:  # bytes or str, as smtplib's
        if self.sock is not None:  # (sendall waits at most its timeout in total)
            try:
                self._deadline.arm(self.sock)
            except TimeoutError as exc:
                self.close()
                raise smtplib.SMTPServerDisconnected(str(exc)) from exc
        super().send(s)
        if s[-5:] == b"\r\n.\r\n":  # the message and its final dot sent, the reply not read
            faults.point("mid-send")

    def getreply(self) -> tuple[int, bytes]:
        if self.file is None and self.sock is not None:  # a new connection, or after STARTTLS
            self.file = deadline_file(self.sock, self._deadline)
        return super().getreply()


class _DeadlineSMTP_SSL(_DeadlineSMTP, smtplib.SMTP_SSL):
    pass


class SmtpSender:
    """The `smtp` channel type: sends messages to an SMTP server (its settings are read from
    spec.models.SmtpChannel)."""

    medium = "email"

    def __init__(
        self,
        name: str,
        *,
        host: str,
        from_: str,
        port: int = 587,
        starttls: bool = False,
        ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        reply_to: str | None = None,
        timeout: float = 30.0,
        clock: Clock | None = None,
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        self.name = name
        self.host, self.port, self.timeout = host, port, timeout
        problem = check_timeout(name, timeout)
        if problem:
            raise ChannelConfigError(problem)
        self._deadline = Deadline(timeout)  # restarted by each delivery, connect and QUIT
        self.starttls, self.ssl = starttls, ssl
        self.username, self.password = username, password
        try:
            self.sender = Originator.parse(from_, reply_to)
        except PermanentChannelError as exc:
            raise ChannelConfigError(f"channel {name!r}: {exc}") from None
        self._clock = clock or SystemClock()
        self._ssl_context = ssl_context
        self._client: smtplib.SMTP | None = None
        self.connections = 0  # connections opened so far (reuse is observable)

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any], *, base_dir: Path) -> SmtpSender:
        return cls(
            name,
            host=config["host"],
            port=config["port"],
            starttls=config["starttls"],
            ssl=config["ssl"],
            username=config.get("username"),
            password=config.get("password"),
            from_=config["from_"],
            reply_to=config.get("reply_to"),
            timeout=config["timeout"],
        )

    # --- connection ----------------------------------------------------------------------

    def open(self) -> None:
        self._deadline.start()
        self._connect()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            self._deadline.start()  # QUIT gets its own `timeout`, not the last delivery's rest
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def _discard(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _connect(self) -> smtplib.SMTP:
        if self._client is not None:
            return self._client
        where = f"SMTP {self.host}:{self.port}"
        client: smtplib.SMTP | None = None
        try:
            if self.ssl:
                client = _DeadlineSMTP_SSL(
                    self._deadline,
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=self._tls_context(),
                )
            else:
                client = _DeadlineSMTP(self._deadline, self.host, self.port, timeout=self.timeout)
            client.ehlo()
            if self.starttls:
                # An explicit context: without one, starttls() accepts any certificate.
                client.starttls(context=self._tls_context())
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            # Wrong credentials are not this message's fault: keep it queued until fixed.
            self._close_quietly(client)
            raise TransientChannelError(f"{where}: login failed: {exc.smtp_code} {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._close_quietly(client)
            if self._deadline.timed_out(exc):
                raise TransientChannelError(
                    f"{where}: cannot connect: {self._no_reply()} (connect, greeting, "
                    "STARTTLS and login)"
                ) from exc
            raise TransientChannelError(f"{where}: cannot connect: {exc}") from exc
        self._client = client
        self.connections += 1
        return client

    def _tls_context(self) -> ssl_module.SSLContext:
        if self._ssl_context is None:  # built lazily: loading the CA store costs milliseconds
            self._ssl_context = ssl_module.create_default_context()
        return self._ssl_context

    @staticmethod
    def _close_quietly(client: smtplib.SMTP | None) -> None:
        if client is not None:
            client.close()

    # --- delivery ------------------------------------------------------------------------

    def _no_reply(self) -> str:
        return f"no complete reply within {self.timeout:g}s (timeout: the deadline per delivery)"

    def deliver(self, message: Message) -> Receipt:
        built = build_email(message, self.sender, date=self._clock.now())
        self._deadline.start()
        client = self._mail_from()
        stage = "RCPT"
        try:
            code, reply = client.rcpt(built.recipient)
            if code not in (250, 251):
                raise self._refused(code, reply, stage)
            stage = "DATA"
            code, reply = client.data(built.data)
            if code != 250:
                raise self._refused(code, reply, stage)
        except smtplib.SMTPResponseException as exc:  # data() raises when 354 is missing
            raise self._refused(exc.smtp_code, exc.smtp_error, stage) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Not retried here: after DATA the server may have the message (the Message-ID
            # lets it drop the repeat when the runtime retries later).
            self._discard()
            why = self._no_reply() if self._deadline.timed_out(exc) else exc or type(exc).__name__
            raise TransientChannelError(f"SMTP {stage} failed: {why}") from exc
        return Receipt(message.key, provider_id=built.message_id)

    def _mail_from(self) -> smtplib.SMTP:
        """MAIL FROM on the batch connection; reconnect once if the server dropped it idle."""
        for attempt in range(2):
            reused = self._client is not None
            client = self._connect()
            try:
                code, reply = client.mail(self.sender.address)
            except (OSError, smtplib.SMTPException) as exc:
                self._discard()
                if self._deadline.timed_out(exc):
                    raise TransientChannelError(f"SMTP MAIL failed: {self._no_reply()}") from exc
                if reused and attempt == 0:
                    continue
                raise TransientChannelError(f"SMTP MAIL failed: {exc}") from exc
            if code == 421 and reused and attempt == 0:  # server closing an idle connection
                self._discard()
                continue
            if code != 250:
                raise self._refused(code, reply, "MAIL")
            return client
        raise AssertionError("unreachable")  # pragma: no cover

    def _refused(self, code: int, reply: bytes | str, stage: str) -> Exception:
        """Classify a refusal and leave the connection usable for the next message."""
        if code == 421 or self._client is None:
            self._discard()  # 421: the server is closing the transmission channel
        else:
            try:
                self._client.rset()
            except (OSError, smtplib.SMTPException):
                self._discard()
        return classify_reply(code, reply, stage)
