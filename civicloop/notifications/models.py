"""An in-app inbox per user, and a record of every email and SMS sent (or, for SMS without a
gateway, only recorded) for it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicloop.cases.models import Case, CaseEvent


class Channel(models.TextChoices):
    INBOX = "inbox", _("站内消息")
    EMAIL = "email", _("电子邮件")
    SMS = "sms", _("短信")


class DeliveryStatus(models.TextChoices):
    SENT = "sent", _("已发送")
    # The logging SMS backend: what would have been sent, recorded, not sent.
    LOGGED = "logged", _("仅记录，未发送")
    FAILED = "failed", _("发送失败")


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications")
    case = models.ForeignKey(Case, models.CASCADE, null=True, blank=True, related_name="+")
    event = models.ForeignKey(CaseEvent, models.CASCADE, null=True, blank=True, related_name="+")
    kind = models.CharField(_("类型"), max_length=32)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    created_at = models.DateTimeField(_("时间"))
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        ordering = ["-created_at", "-id"]
        constraints = [
            # A listener may be called twice for one event; each person hears of it once.
            models.UniqueConstraint(fields=["user", "event"], name="notification_once")
        ]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"


class Delivery(models.Model):
    """One email or SMS for a notification, or an SMS to a 12345 caller who has no account."""

    notification = models.ForeignKey(
        Notification, models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    event = models.ForeignKey(CaseEvent, models.CASCADE, null=True, blank=True, related_name="+")
    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    to = models.CharField(_("接收方"), max_length=254)
    subject = models.CharField(_("主题"), max_length=200, blank=True)
    text = models.TextField(_("内容"))
    status = models.CharField(_("状态"), max_length=8, choices=DeliveryStatus.choices)
    detail = models.CharField(_("说明"), max_length=300, blank=True)
    at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("发送记录")
        verbose_name_plural = _("发送记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.channel} → {self.to}: {self.status}"
