from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The Yiwu demo: loads every app's demo data. It sits on top of all apps (nothing
    imports it), like the web layer."""

    name = "civicloop.demo"
    verbose_name = _("演示数据")
