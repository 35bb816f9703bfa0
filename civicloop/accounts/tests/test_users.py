from __future__ import annotations

import pytest

from civicloop.accounts.models import User
from civicloop.accounts.services import user_create
from civicloop.lib.errors import Invalid


def test_chinese_names_and_mobile_login(db: None) -> None:
    user = user_create(mobile="13912345678", name="欧阳娜娜", password="a-long-pass-2026")
    assert (user.name, str(user)) == ("欧阳娜娜", "欧阳娜娜（139****5678）")
    assert user.check_password("a-long-pass-2026")


@pytest.mark.parametrize(
    ("mobile", "name", "code"),
    [
        ("12345678901", "张三", "invalid_mobile"),
        ("1381234567", "张三", "invalid_mobile"),
        ("1381234567a", "张三", "invalid_mobile"),
        ("13812345678", "  ", "name_required"),
    ],
)
def test_bad_users_are_refused(db: None, mobile: str, name: str, code: str) -> None:
    with pytest.raises(Invalid) as error:
        user_create(mobile=mobile, name=name)
    assert error.value.code == code
    assert User.objects.count() == 0


def test_a_mobile_registers_once(db: None) -> None:
    user_create(mobile="13812345678", name="张三")
    with pytest.raises(Invalid) as error:
        user_create(mobile="13812345678", name="李四")
    assert (error.value.code, User.objects.count()) == ("mobile_taken", 1)
