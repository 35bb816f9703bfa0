from __future__ import annotations

import hashlib
import re
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicloop.regions.models import Region

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def validate_mobile(value: str) -> None:
    if not MOBILE_RE.match(value):
        raise ValidationError(_("请输入11位中国大陆手机号码"), code="invalid_mobile")


class Role(models.TextChoices):
    """The roles of civic-loop.md §6.2."""

    RESIDENT = "resident", _("居民")
    VOLUNTEER = "volunteer", _("志愿者")
    GRID_WORKER = "grid_worker", _("网格员")
    INTAKE_CLERK = "intake_clerk", _("受理员")
    DISPATCHER = "dispatcher", _("派遣员")
    SHIFT_LEAD = "shift_lead", _("值班长")
    UNIT_HANDLER = "unit_handler", _("处置人员")
    UNIT_HEAD = "unit_head", _("责任单位负责人")
    VERIFIER = "verifier", _("核查员")
    EVALUATOR = "evaluator", _("考核督查")
    ADMINISTRATOR = "administrator", _("系统管理员")


# Roles that work for a centre over a territory, and roles that work for a responsible unit.
CENTRE_ROLES = frozenset(
    {
        Role.INTAKE_CLERK,
        Role.DISPATCHER,
        Role.SHIFT_LEAD,
        Role.VERIFIER,
        Role.EVALUATOR,
        Role.ADMINISTRATOR,
    }
)
UNIT_ROLES = frozenset({Role.UNIT_HANDLER, Role.UNIT_HEAD})
PUBLIC_ROLES = frozenset({Role.RESIDENT, Role.VOLUNTEER})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, mobile: str, password: str | None = None, **extra: Any) -> User:
        validate_mobile(mobile)
        user = self.model(mobile=mobile, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, mobile: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(mobile, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Logs in by mobile number; the name is free text (Chinese names welcome)."""

    mobile = models.CharField(_("手机号"), max_length=11, unique=True, validators=[validate_mobile])
    name = models.CharField(_("姓名"), max_length=50)
    email = models.EmailField(_("电子邮箱"), blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    is_staff = models.BooleanField(_("可登录后台"), default=False)
    date_joined = models.DateTimeField(_("注册时间"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "mobile"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return f"{self.name}（{self.masked_mobile}）"

    @property
    def masked_mobile(self) -> str:
        return f"{self.mobile[:3]}****{self.mobile[-4:]}"


class OrgKind(models.TextChoices):
    CITY_CENTRE = "city_centre", _("市级指挥中心")
    TOWN_CENTRE = "town_centre", _("镇街综合信息指挥室")
    PLATFORM = "platform", _("基层治理平台")
    DEPARTMENT = "department", _("职能部门")
    COMMUNITY = "community", _("村社")
    ENTERPRISE = "enterprise", _("企业")
    SOCIAL_ORG = "social_org", _("社会组织")


class Organisation(models.Model):
    """A centre, a platform of a town centre (综治工作、市场监管、综合执法、便民服务), a department
    or responsible unit (城管办, 环卫所 …), a village committee, later an enterprise."""

    code = models.SlugField(_("编码"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=20, choices=OrgKind.choices)
    region = models.ForeignKey(
        Region, models.PROTECT, related_name="organisations", verbose_name=_("所在区域")
    )
    parent = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("上级单位"),
    )
    is_active = models.BooleanField(_("有效"), default=True)

    class Meta:
        verbose_name = _("组织")
        verbose_name_plural = _("组织")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> MembershipQuerySet:
        return self.filter(is_active=True)


class Membership(models.Model):
    """User + role + organisation + the region the role may act in."""

    user = models.ForeignKey(
        User, models.CASCADE, related_name="memberships", verbose_name=_("用户")
    )
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices)
    organisation = models.ForeignKey(
        Organisation,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="memberships",
        verbose_name=_("组织"),
    )
    region = models.ForeignKey(
        Region, models.PROTECT, related_name="memberships", verbose_name=_("管辖区域")
    )
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("任职")
        verbose_name_plural = _("任职")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "organisation", "region"], name="membership_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user.name} · {self.get_role_display()} · {self.organisation or self.region}"


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for API clients. Only the SHA-256 of the key is stored."""

    user = models.ForeignKey(User, models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(_("前缀"), max_length=8)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    is_active = models.BooleanField(_("有效"), default=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
