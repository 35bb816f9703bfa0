"""`civicloop create_token MOBILE NAME`: an API token for a client, printed once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from civicloop.accounts.models import User
from civicloop.accounts.services import token_create


class Command(BaseCommand):
    help = "为用户创建 API 令牌（仅显示一次）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("mobile")
        parser.add_argument("name", help="令牌用途，如“12345 对接”")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(mobile=options["mobile"], is_active=True).first()
        if user is None:
            raise CommandError(_("用户不存在或已停用：%(mobile)s") % {"mobile": options["mobile"]})
        _token, key = token_create(user=user, name=options["name"])
        self.stdout.write(key)
