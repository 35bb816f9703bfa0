from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "civicloop.cases"
    verbose_name = _("事件闭环")
