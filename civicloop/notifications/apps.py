from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "civicloop.notifications"
    verbose_name = _("消息通知")

    def ready(self) -> None:
        # The one link between the apps: cases publishes events, notifications listens.
        from civicloop.cases import events
        from civicloop.notifications.services import notify_case_event

        events.subscribe(notify_case_event)
