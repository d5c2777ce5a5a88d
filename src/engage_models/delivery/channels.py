"""Sending: an incoming webhook (HTTP POST of JSON) and mail (SMTP), and :func:`deliver`, which sends a run's digest
everywhere the configuration says and reports, per channel, whether it went.

Secrets (the webhook URL, which carries its token, and the SMTP password) are read from the environment, or from
the configuration's ``env_file`` (the environment wins), at the moment of sending. They appear in no result, log
line or error text: a failure is told by the channel's name, the configured variable's name and what went wrong
(``HTTP 500``, ``connection refused``), every error text scrubbed of the secrets first.

A delivery never raises for a channel that fails (a server down, a refused login, a timeout): :func:`deliver`
returns that channel's result with ``status="failed"`` and the reason, and the caller (the report runner) records
it in ``run.json`` and on the index page. Only a configuration mistake that no send could cure (a variable that
is set nowhere) is a failure too, told the same way.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

from .._core.i18n import count
from .messages import Digest, mail_text, slack_payload, teams_payload

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """One channel could not deliver; the message holds no secret."""


@dataclass
class DeliveryResult:
    """How one channel went: ``status`` is ``sent`` or ``failed`` (with ``error``)."""

    channel: str  # "webhook" or "mail"
    target: str  # what it was sent to, without secrets ("slack webhook ($ENGAGE_WEBHOOK_URL)")
    status: str
    error: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


def _scrub(text: str, secrets: list[str]) -> str:
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secret(name: str, env_file: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The value of the variable ``name``: the environment first, then ``env_file``; DeliveryError when unset."""
    env = os.environ if environ is None else environ
    if env.get(name):
        return env[name]
    if env_file:
        from dotenv import dotenv_values

        if not Path(env_file).is_file():
            raise DeliveryError(f"env_file {Path(env_file).name} does not exist")
        value = dotenv_values(env_file).get(name)
        if value:
            return value
    where = f" in {Path(env_file).name}" if env_file else " in an env_file"
    raise DeliveryError(f"${name} is set neither in the environment nor{where}")


# --------------------------------------------------------------------------------------------- webhook
def post_webhook(url: str, payload: dict, timeout: float = 10.0) -> None:
    """POST ``payload`` as JSON to an incoming-webhook ``url``; DeliveryError (without the URL) unless 2xx.

    The URL must be https, except to this machine (http://127.0.0.1:..., for tests and local relays); proxies
    from the environment are used for remote hosts only.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise DeliveryError("the webhook URL is not a URL") from None
    local = _is_loopback(host)
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise DeliveryError("the webhook URL must start with https:// (http:// only to this machine)")
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if local else urllib.request.build_opener()
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}".strip()) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"cannot reach {host}: {exc.reason}") from None
    except TimeoutError:
        raise DeliveryError(f"no answer from {host} within {timeout:g} s") from None
    except OSError as exc:
        raise DeliveryError(f"cannot reach {host}: {exc.strerror or exc}") from None
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")


# ------------------------------------------------------------------------------------------------ mail
def send_mail(*, host: str, port: int, security: str, sender: str, to: tuple[str, ...], subject: str, text: str,
              user: str | None = None, password: str | None = None, timeout: float = 10.0) -> None:
    """Send a plain-text mail; DeliveryError (without the password) when the server refuses or is unreachable.

    ``security``: ``starttls`` (upgrade, certificate checked), ``ssl`` (implicit TLS) or ``none``, allowed only
    to this machine (a password never travels in clear over the network).
    """
    if security == "none" and not _is_loopback(host):
        raise DeliveryError(f"smtp_security 'none' sends in clear text: only to this machine, not {host}")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid(domain=sender.split("@")[-1])
    msg.set_content(text, subtype="plain", charset="utf-8")
    context = ssl.create_default_context()
    try:
        if security == "ssl":
            server = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
        with server:
            if security == "starttls":
                server.starttls(context=context)
            if user:
                server.login(user, password or "")
            refused = server.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"the server refused the login of {user} ({exc.smtp_code})") from None
    except smtplib.SMTPException as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    except TimeoutError:
        raise DeliveryError(f"no answer from {host}:{port} within {timeout:g} s") from None
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"cannot reach {host}:{port}: {exc.strerror or exc}") from None
    if refused:
        raise DeliveryError(f"the server refused {count(len(refused), 'recipient')}: {', '.join(sorted(refused))}")


# --------------------------------------------------------------------------------------------- deliver
def deliver(digest: Digest, config, environ: Mapping[str, str] | None = None) -> list[DeliveryResult]:
    """Send ``digest`` to every channel of ``config`` (a :class:`~engage_models.pipeline.config.DeliveryConfig`);
    one result per channel, failures included (never raised)."""
    results = []
    if config.webhook_url_env:
        kind = "Teams" if config.webhook_format == "teams" else "Slack"
        target = f"{kind} webhook (${config.webhook_url_env})"
        results.append(_attempt("webhook", target, lambda: _webhook(digest, config, environ)))
    if config.smtp_host:
        target = f"mail to {', '.join(config.mail_to)} via {config.smtp_host}:{config.smtp_port}"
        results.append(_attempt("mail", target, lambda: _mail(digest, config, environ)))
    return results


def _webhook(digest: Digest, config, environ) -> None:
    url = secret(config.webhook_url_env, config.env_file, environ)
    try:
        payload = teams_payload(digest) if config.webhook_format == "teams" else slack_payload(digest)
        post_webhook(url, payload, timeout=config.timeout_s)
    except Exception as exc:  # anything at all: told without the URL (it carries the webhook's token)
        text = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        raise DeliveryError(_scrub(text, [url])) from None


def _mail(digest: Digest, config, environ) -> None:
    password = secret(config.smtp_password_env, config.env_file, environ) if config.smtp_password_env else None
    try:
        subject, text = mail_text(digest)
        send_mail(host=config.smtp_host, port=config.smtp_port, security=config.smtp_security,
                  sender=config.mail_from, to=tuple(config.mail_to), subject=subject, text=text,
                  user=config.smtp_user, password=password, timeout=config.timeout_s)
    except Exception as exc:  # anything at all: told without the password
        text = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
        raise DeliveryError(_scrub(text, [password or ""])) from None


def _attempt(channel: str, target: str, send) -> DeliveryResult:
    t0 = time.perf_counter()
    try:
        send()
    except DeliveryError as exc:
        log.warning("delivery to %s failed: %s", target, exc)
        return DeliveryResult(channel, target, "failed", str(exc), time.perf_counter() - t0)
    log.info("delivered to %s", target)
    return DeliveryResult(channel, target, "sent", None, time.perf_counter() - t0)
