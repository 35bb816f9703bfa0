from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnvironmentConfig(AppConfig):
    name = "civicloop.environment"
    verbose_name = _("环境智慧监管")
