"""Outgoing channels: email through Django's mail backend, SMS behind a small interface.

The SMS backend is chosen by the optional setting `SMS_BACKEND` (a dotted path). The default
records what would be sent and says so (status "logged"): there is no gateway behind it, so it
never reports success. A gateway backend implements `SmsBackend.send`.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from civicloop.notifications.models import DeliveryStatus

logger = logging.getLogger(__name__)

DEFAULT_SMS_BACKEND = "civicloop.notifications.channels.LoggingSmsBackend"


@dataclass(frozen=True)
class SendResult:
    status: DeliveryStatus
    detail: str = ""


class SmsBackend(Protocol):
    def send(self, *, to: str, text: str) -> SendResult: ...


class LoggingSmsBackend:
    """Writes the message to the log and reports it as recorded, not sent."""

    def send(self, *, to: str, text: str) -> SendResult:
        masked = f"{to[:3]}****{to[-4:]}" if len(to) >= 7 else to
        logger.info("SMS not sent (no gateway configured) to %s: %s", masked, text)
        return SendResult(DeliveryStatus.LOGGED, _("未配置短信网关，仅记录待发内容"))


def sms_backend() -> SmsBackend:
    backend: SmsBackend = import_string(getattr(settings, "SMS_BACKEND", DEFAULT_SMS_BACKEND))()
    return backend


def send_email(*, to: str, subject: str, body: str) -> SendResult:
    message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    try:
        sent = message.send()
    except (smtplib.SMTPException, OSError) as e:
        logger.warning("email to %s failed: %s", to, e)
        return SendResult(DeliveryStatus.FAILED, str(e)[:300])
    if sent != 1:
        return SendResult(DeliveryStatus.FAILED, _("邮件后端未发送"))
    return SendResult(DeliveryStatus.SENT)
