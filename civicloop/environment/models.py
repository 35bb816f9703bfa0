"""Enterprises, discharge permits, outlets and permitted limits; the standards library; alerts
raised from online monitoring; AQI of the micro air stations.

The permit data model follows environment-standards.md §4 (HJ 942 / the national permit
platform's public pages): an enterprise (USCC) holds a permit (22-character number) in
versions; outlets (DW### / DA###) are physical and belong to the enterprise; each permit
version states, per outlet and pollutant, the permitted concentrations (hourly or daily), rate,
annual amount, the standard applied and special periods, plus the self-monitoring plan.
Environment links to monitoring (outlet → monitoring point); monitoring never links back.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from civicloop.accounts.models import Organisation
from civicloop.environment import codes
from civicloop.monitoring.models import MonitoringPoint
from civicloop.regions.models import Region


def validate_uscc(value: str) -> None:
    problem = codes.uscc_problem(value)
    if problem:
        raise ValidationError(problem, code="uscc_invalid")


def validate_permit_number(value: str) -> None:
    problem = codes.permit_number_problem(value)
    if problem:
        raise ValidationError(problem, code="permit_number_invalid")


def validate_outlet_code(value: str) -> None:
    problem = codes.outlet_code_problem(value)
    if problem:
        raise ValidationError(problem, code="outlet_code_invalid")


def validate_industry_code(value: str) -> None:
    problem = codes.industry_code_problem(value)
    if problem:
        raise ValidationError(problem, code="industry_code_invalid")


class Medium(models.TextChoices):
    WATER = "water", _("废水")
    AIR = "air", _("废气")


class ManagementCategory(models.TextChoices):
    KEY = "key", _("重点管理")
    SIMPLIFIED = "simplified", _("简化管理")
    REGISTRATION = "registration", _("登记管理")


class Enterprise(models.Model):
    """排污单位: one legal unit, identified by its unified social credit code."""

    uscc = models.CharField(
        _("统一社会信用代码"), max_length=18, unique=True, validators=[validate_uscc]
    )
    name = models.CharField(_("单位名称"), max_length=200)
    legal_representative = models.CharField(_("法定代表人"), max_length=50)
    industry_code = models.CharField(
        _("行业类别代码"),
        max_length=8,
        validators=[validate_industry_code],
        help_text=_("GB/T 4754 国民经济行业分类代码，如 1713 棉印染精加工"),
    )
    industry_name = models.CharField(_("行业类别"), max_length=100)
    address = models.CharField(_("生产经营场所地址"), max_length=200)
    latitude = models.FloatField(_("纬度"))
    longitude = models.FloatField(_("经度"))
    town = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("所在镇街"))
    village = models.ForeignKey(
        Region, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("所在村社")
    )
    management_category = models.CharField(
        _("管理类别"), max_length=16, choices=ManagementCategory.choices
    )
    environmental_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("环保负责人"),
    )
    organisation = models.OneToOneField(
        Organisation,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="enterprise",
        verbose_name=_("企业组织"),
    )
    is_active = models.BooleanField(_("在产"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("排污单位")
        verbose_name_plural = _("排污单位")
        ordering = ["name"]
        indexes = [models.Index(fields=["town", "name"], name="env_enterprise_town")]

    def __str__(self) -> str:
        return self.name


class PermitQuerySet(models.QuerySet["Permit"]):
    def in_force(self, on: date) -> PermitQuerySet:
        return self.filter(valid_from__lte=on, valid_to__gte=on)


class Permit(models.Model):
    """One version of an enterprise's 排污许可证 (or 排污登记 receipt)."""

    enterprise = models.ForeignKey(
        Enterprise, models.CASCADE, related_name="permits", verbose_name=_("排污单位")
    )
    number = models.CharField(_("许可证编号"), max_length=22, validators=[validate_permit_number])
    version = models.PositiveSmallIntegerField(_("版本"), default=1)
    issued_on = models.DateField(_("发证日期"))
    valid_from = models.DateField(_("有效期自"))
    valid_to = models.DateField(_("有效期至"))
    authority = models.CharField(_("发证机关"), max_length=100)
    change_note = models.CharField(_("变更说明"), max_length=200, blank=True)
    # 副本-only content (environment-standards.md §4.3): shown to inspectors, not the public.
    production_summary = models.TextField(_("主要生产设施、产品及产能"), blank=True)
    # Name of the scanned 副本 in the private storage (served to inspectors only).
    copy_file = models.CharField(_("许可证副本扫描件"), max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = PermitQuerySet.as_manager()

    class Meta:
        verbose_name = _("排污许可证")
        verbose_name_plural = _("排污许可证")
        ordering = ["enterprise", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["number", "version"], name="env_permit_version"),
            models.CheckConstraint(
                condition=Q(valid_to__gte=models.F("valid_from")), name="env_permit_dates"
            ),
        ]

    def __str__(self) -> str:
        return _("%(number)s（第%(version)s版）") % {"number": self.number, "version": self.version}


class OutletClass(models.TextChoices):
    MAIN = "main", _("主要排放口")
    GENERAL = "general", _("一般排放口")
    OTHER = "other", _("其他排放口")


class DischargeMode(models.TextChoices):
    DIRECT = "direct", _("直接排放")
    INDIRECT = "indirect", _("间接排放")


class DischargePattern(models.TextChoices):
    """排放规律 as offered by the permit application form (HJ 942 附录 style)."""

    CONTINUOUS_STABLE = "continuous_stable", _("连续排放，流量稳定")
    CONTINUOUS_PERIODIC = "continuous_periodic", _("连续排放，流量不稳定，但有周期性规律")
    CONTINUOUS_REGULAR = (
        "continuous_regular",
        _("连续排放，流量不稳定，但有规律，且不属于周期性规律"),
    )
    CONTINUOUS_IRREGULAR = (
        "continuous_irregular",
        _("连续排放，流量不稳定且无规律，但不属于冲击型排放"),
    )
    CONTINUOUS_IMPACT = "continuous_impact", _("连续排放，流量不稳定，属于冲击型排放")
    INTERMITTENT_STABLE = "intermittent_stable", _("间断排放，排放期间流量稳定")
    INTERMITTENT_PERIODIC = (
        "intermittent_periodic",
        _("间断排放，排放期间流量不稳定，但有周期性规律"),
    )
    INTERMITTENT_IRREGULAR = (
        "intermittent_irregular",
        _("间断排放，排放期间流量不稳定且无规律，但不属于冲击型排放"),
    )


class Outlet(models.Model):
    """排放口: a physical discharge point of an enterprise, DW### (water) or DA### (air)."""

    enterprise = models.ForeignKey(
        Enterprise, models.CASCADE, related_name="outlets", verbose_name=_("排污单位")
    )
    code = models.CharField(_("排放口编号"), max_length=5, validators=[validate_outlet_code])
    name = models.CharField(_("排放口名称"), max_length=100)
    medium = models.CharField(_("类别"), max_length=8, choices=Medium.choices, editable=False)
    outlet_class = models.CharField(_("排放口类型"), max_length=8, choices=OutletClass.choices)
    is_organised = models.BooleanField(_("有组织排放"), default=True)
    discharge_mode = models.CharField(
        _("排放方式"), max_length=12, choices=DischargeMode.choices, blank=True
    )
    discharge_pattern = models.CharField(
        _("排放规律"), max_length=24, choices=DischargePattern.choices
    )
    intermittent_periods = models.CharField(_("间歇排放时段"), max_length=100, blank=True)
    destination = models.CharField(_("排放去向"), max_length=100)
    receiving_body = models.CharField(_("受纳水体或污水处理厂"), max_length=100, blank=True)
    latitude = models.FloatField(_("纬度"))
    longitude = models.FloatField(_("经度"))
    stack_height_m = models.FloatField(_("排气筒高度（米）"), null=True, blank=True)
    inner_diameter_m = models.FloatField(_("排气筒出口内径（米）"), null=True, blank=True)
    built_on = models.DateField(
        _("建设项目环评批复日期"),
        null=True,
        blank=True,
        help_text=_("决定执行标准的新建/现有时段，如 GB 8978 的表2/表4、GB 13271 的表1/表2"),
    )
    monitoring_point = models.OneToOneField(
        MonitoringPoint,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="outlet",
        verbose_name=_("在线监测点（MN）"),
    )
    # Printed into the QR code; raising it invalidates every label printed before.
    qr_version = models.PositiveSmallIntegerField(_("二维码版本"), default=1)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("排放口")
        verbose_name_plural = _("排放口")
        ordering = ["enterprise", "code"]
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "code"], name="env_outlet_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def mode_label(self) -> str:
        """排放方式 as a sign shows it: direct/indirect for water, organised or not for air."""
        if self.medium == Medium.WATER and self.discharge_mode:
            return str(self.get_discharge_mode_display())
        return str(_("有组织排放") if self.is_organised else _("无组织排放"))


class Pollutant(models.Model):
    """A monitored factor with its HJ 212—2017 code (and the HJ/T 212—2005 code)."""

    code = models.CharField(_("编码"), max_length=16, unique=True)
    legacy_code = models.CharField(_("HJ/T 212—2005 编码"), max_length=8, blank=True)
    name = models.CharField(_("名称"), max_length=50)
    medium = models.CharField(_("类别"), max_length=8, choices=Medium.choices)
    unit = models.CharField(_("单位"), max_length=16)

    class Meta:
        verbose_name = _("污染物")
        verbose_name_plural = _("污染物")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def codes(self) -> list[str]:
        """The codes readings of this factor may carry (2017 devices, 2005 devices)."""
        return [self.code, self.legacy_code] if self.legacy_code else [self.code]


# ---------------------------------------------------------------- standards library


class StandardKind(models.TextChoices):
    INTEGRATED = "integrated", _("综合排放标准")
    INDUSTRY = "industry", _("行业（产品）排放标准")
    LOCAL = "local", _("地方排放标准")
    AMBIENT = "ambient", _("环境质量标准")
    TECHNICAL = "technical", _("技术规范")


class StandardMedium(models.TextChoices):
    WATER = "water", _("水")
    AIR = "air", _("废气")
    AMBIENT_AIR = "ambient_air", _("环境空气")


class Standard(models.Model):
    """A standard across its editions, e.g. GB 3095 (2012, 2026)."""

    number = models.CharField(_("标准号"), max_length=32, unique=True)
    name = models.CharField(_("标准名称"), max_length=100)
    kind = models.CharField(_("类别"), max_length=16, choices=StandardKind.choices)
    medium = models.CharField(_("介质"), max_length=16, choices=StandardMedium.choices)
    # Loaded from civicloop/environment/data/standards.json; the loader rewrites built-in rows,
    # never the ones administrators add (local and product standards).
    is_builtin = models.BooleanField(_("内置"), default=False, editable=False)

    class Meta:
        verbose_name = _("标准")
        verbose_name_plural = _("标准")
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class StandardEditionQuerySet(models.QuerySet["StandardEdition"]):
    def in_force(self, on: date) -> StandardEditionQuerySet:
        return self.filter(effective_from__lte=on).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=on)
        )


class StandardEdition(models.Model):
    standard = models.ForeignKey(
        Standard, models.CASCADE, related_name="editions", verbose_name=_("标准")
    )
    edition = models.CharField(_("版本（年号）"), max_length=16)
    title = models.CharField(_("标题"), max_length=200)
    issued_on = models.DateField(_("发布日期"), null=True, blank=True)
    effective_from = models.DateField(_("实施日期"))
    effective_to = models.DateField(_("废止前最后一日"), null=True, blank=True)
    source = models.CharField(_("数据来源"), max_length=300, blank=True)
    # Edition-specific tables that are not limits (e.g. the HJ 633 IAQI breakpoints).
    data = models.JSONField(_("其他数据"), default=dict, blank=True)
    is_builtin = models.BooleanField(_("内置"), default=False, editable=False)

    objects = StandardEditionQuerySet.as_manager()

    class Meta:
        verbose_name = _("标准版本")
        verbose_name_plural = _("标准版本")
        ordering = ["standard", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "edition"], name="env_standard_edition"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def code(self) -> str:
        return f"{self.standard.number}—{self.edition}"


class LimitPeriod(models.TextChoices):
    HOUR = "hour", _("小时均值")
    DAY = "day", _("日均值")
    EIGHT_HOURS = "8h", _("日最大8小时平均")
    QUARTER = "quarter", _("季平均")
    YEAR = "year", _("年平均")
    INSTANT = "instant", _("任何一次")


class StandardLimit(models.Model):
    """One cell of a standard's table: pollutant × applicability × grade (column)."""

    edition = models.ForeignKey(
        StandardEdition, models.CASCADE, related_name="limits", verbose_name=_("标准版本")
    )
    table = models.CharField(_("表"), max_length=32)
    pollutant_name = models.CharField(_("污染物（标准原文）"), max_length=60)
    pollutant = models.ForeignKey(
        Pollutant,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("监测因子"),
    )
    applicability = models.CharField(_("适用范围"), max_length=100, blank=True)
    is_default = models.BooleanField(
        _("默认行"),
        default=True,
        help_text=_("未指定适用范围时采用（“其他排污单位”“一切排污单位”）"),
    )
    grade = models.CharField(_("级别/类别"), max_length=32, blank=True)
    period = models.CharField(_("取值时间"), max_length=8, choices=LimitPeriod.choices)
    low = models.FloatField(_("下限"), null=True, blank=True)
    high = models.FloatField(_("上限"), null=True, blank=True)
    not_detectable = models.BooleanField(_("不得检出"), default=False)
    unit = models.CharField(_("单位"), max_length=16)
    reference_o2 = models.FloatField(_("基准氧含量（%）"), null=True, blank=True)
    location = models.CharField(_("监控位置"), max_length=40, blank=True)
    built_before = models.DateField(_("适用于此日前建设的单位"), null=True, blank=True)
    built_from = models.DateField(_("适用于此日起建设的单位"), null=True, blank=True)
    valid_from = models.DateField(_("限值生效"), null=True, blank=True)
    valid_to = models.DateField(_("限值截止"), null=True, blank=True)
    note = models.CharField(_("注"), max_length=200, blank=True)
    order = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("标准限值")
        verbose_name_plural = _("标准限值")
        ordering = ["edition", "order"]
        indexes = [models.Index(fields=["edition", "pollutant"], name="env_limit_pollutant")]

    def __str__(self) -> str:
        return f"{self.table} {self.pollutant_name} {self.grade} {self.value_text}"

    @property
    def value_text(self) -> str:
        if self.not_detectable:
            return str(_("不得检出"))
        if self.low is not None and self.high is not None:
            return f"{self.low:g}～{self.high:g}"
        if self.high is not None:
            return f"{self.high:g}"
        return f"≥{self.low:g}" if self.low is not None else "—"


# ---------------------------------------------------------------- permitted limits


class PermitLimit(models.Model):
    """许可排放限值 of one pollutant at one outlet in one permit version."""

    permit = models.ForeignKey(
        Permit, models.CASCADE, related_name="limits", verbose_name=_("许可证")
    )
    outlet = models.ForeignKey(
        Outlet, models.CASCADE, related_name="limits", verbose_name=_("排放口")
    )
    pollutant = models.ForeignKey(
        Pollutant, models.PROTECT, related_name="+", verbose_name=_("污染物")
    )
    hourly_limit = models.FloatField(_("许可排放小时浓度限值"), null=True, blank=True)
    daily_limit = models.FloatField(_("许可排放日均浓度限值"), null=True, blank=True)
    low_limit = models.FloatField(
        _("下限"), null=True, blank=True, help_text=_("仅 pH 等有下限的指标，如 6")
    )
    promised_limit = models.FloatField(_("承诺更加严格排放浓度限值"), null=True, blank=True)
    unit = models.CharField(_("单位"), max_length=16)
    rate_limit_kg_h = models.FloatField(_("许可排放速率限值（kg/h）"), null=True, blank=True)
    annual_limit_t = models.FloatField(_("许可年排放量限值（t/a）"), null=True, blank=True)
    standard = models.ForeignKey(
        Standard,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("执行标准"),
    )
    standard_table = models.CharField(_("标准表"), max_length=32, blank=True)
    standard_grade = models.CharField(_("标准级别/类别"), max_length=32, blank=True)
    standard_applicability = models.CharField(_("标准适用范围"), max_length=100, blank=True)
    is_main = models.BooleanField(_("主要污染物"), default=True)

    class Meta:
        verbose_name = _("许可排放限值")
        verbose_name_plural = _("许可排放限值")
        ordering = ["permit", "outlet", "pollutant"]
        constraints = [
            models.UniqueConstraint(
                fields=["permit", "outlet", "pollutant"], name="env_permit_limit_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outlet.code} {self.pollutant.name}"


class SpecialPeriodLimit(models.Model):
    """特殊时段 (重污染天气应对, 限期达标规划 …): a stricter limit between two dates."""

    limit = models.ForeignKey(
        PermitLimit, models.CASCADE, related_name="special_periods", verbose_name=_("许可限值")
    )
    name = models.CharField(_("特殊时段"), max_length=60)
    starts_on = models.DateField(_("开始"))
    ends_on = models.DateField(_("结束"))
    concentration_limit = models.FloatField(_("许可排放浓度限值"), null=True, blank=True)
    daily_amount_kg = models.FloatField(_("许可日排放量限值（kg/d）"), null=True, blank=True)

    class Meta:
        verbose_name = _("特殊时段限值")
        verbose_name_plural = _("特殊时段限值")
        ordering = ["starts_on"]

    def __str__(self) -> str:
        return f"{self.name} {self.starts_on}～{self.ends_on}"


class MonitoringMode(models.TextChoices):
    AUTOMATIC = "automatic", _("自动监测")
    MANUAL = "manual", _("手工监测")


class MonitoringRequirement(models.Model):
    """自行监测要求 of a permit version (HJ 819; the permit's own table decides)."""

    permit = models.ForeignKey(
        Permit, models.CASCADE, related_name="monitoring_requirements", verbose_name=_("许可证")
    )
    outlet = models.ForeignKey(
        Outlet, models.CASCADE, related_name="monitoring_requirements", verbose_name=_("排放口")
    )
    pollutant = models.ForeignKey(
        Pollutant, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("污染物")
    )
    content = models.CharField(_("监测内容"), max_length=100, blank=True)
    mode = models.CharField(_("监测设施"), max_length=12, choices=MonitoringMode.choices)
    is_networked = models.BooleanField(_("自动监测是否联网"), default=False)
    frequency = models.CharField(_("监测频次"), max_length=60)
    method = models.CharField(_("测定方法"), max_length=100, blank=True)
    note = models.CharField(_("其他信息"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("自行监测要求")
        verbose_name_plural = _("自行监测要求")
        ordering = ["permit", "outlet", "id"]

    def __str__(self) -> str:
        return f"{self.outlet.code} {self.pollutant or self.content} {self.get_mode_display()}"


# ---------------------------------------------------------------- who supervises, who shares


class EnforcementTeam(models.Model):
    """The environmental enforcement team of a region: alerts of enterprises in the region are
    dispatched to it, and its members are the inspectors who see everything of those
    enterprises. The deepest region containing the enterprise wins."""

    region = models.OneToOneField(
        Region, models.PROTECT, related_name="+", verbose_name=_("负责区域")
    )
    organisation = models.ForeignKey(
        Organisation, models.PROTECT, related_name="+", verbose_name=_("执法队伍")
    )
    is_active = models.BooleanField(_("有效"), default=True)

    class Meta:
        verbose_name = _("环境执法队伍")
        verbose_name_plural = _("环境执法队伍")

    def __str__(self) -> str:
        return f"{self.region.name} · {self.organisation.name}"


class DataShareGrant(models.Model):
    """A department allowed to read environmental data through the data-sharing API."""

    organisation = models.ForeignKey(
        Organisation, models.PROTECT, related_name="+", verbose_name=_("共享单位")
    )
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name=_("数据范围"))
    purpose = models.CharField(_("用途"), max_length=200)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(_("授权时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("数据共享授权")
        verbose_name_plural = _("数据共享授权")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "region"], name="env_share_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation.name} · {self.region.name}"


# ---------------------------------------------------------------- alerts


class AlertKind(models.TextChoices):
    EXCEEDANCE = "exceedance", _("超标排放")
    ZERO = "zero", _("零值")
    NEGATIVE = "negative", _("负值")
    CONSTANT = "constant", _("恒值")
    JUMP = "jump", _("数据突变")
    OVER_RANGE = "over_range", _("超量程")
    MISSING = "missing", _("数据缺失")
    OFFLINE = "offline", _("设备离线")
    FLAG_TOO_LONG = "flag_too_long", _("故障/维护/校准标记超时")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("处置中")
    RESOLVED = "resolved", _("已解除")


class Alert(models.Model):
    """A finding of the rules, deduplicated while it lasts: one open alert per outlet, kind and
    pollutant; later findings of the same key update it. It opens a case and resolves when
    that case is closed."""

    outlet = models.ForeignKey(
        Outlet, models.PROTECT, related_name="alerts", verbose_name=_("排放口")
    )
    point = models.ForeignKey(
        MonitoringPoint, models.PROTECT, related_name="+", verbose_name=_("监测点")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=AlertKind.choices)
    code = models.CharField(_("污染物编码"), max_length=32, blank=True)
    pollutant_name = models.CharField(_("污染物"), max_length=50, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=AlertStatus.choices, default=AlertStatus.OPEN
    )
    first_start = models.DateTimeField(_("开始时间"))
    last_end = models.DateTimeField(_("最近发现至"))
    findings = models.PositiveIntegerField(_("发现次数"), default=1)
    periods = models.PositiveIntegerField(_("累计时段数"), default=0)
    max_consecutive = models.PositiveIntegerField(_("最长连续时段数"), default=0)
    worst_value = models.FloatField(_("最不利值"), null=True, blank=True)
    unit = models.CharField(_("单位"), max_length=16, blank=True)
    limit_text = models.CharField(_("限值"), max_length=40, blank=True)
    basis = models.CharField(_("判定依据"), max_length=200, blank=True)
    is_persistent = models.BooleanField(_("连续超标"), default=False)
    evidence = models.JSONField(_("证据"), default=dict)
    case = models.ForeignKey(
        "cases.Case",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("案件"),
    )
    case_error = models.CharField(_("未能立案原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    updated_at = models.DateTimeField(_("更新时间"))
    resolved_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    resolution = models.CharField(_("解除原因"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("预警")
        verbose_name_plural = _("预警")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["outlet", "kind", "code"],
                condition=Q(status="open"),
                name="env_alert_one_open",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="env_alert_status"),
            models.Index(fields=["outlet", "kind", "code", "last_end"], name="env_alert_key"),
        ]

    def __str__(self) -> str:
        return f"{self.outlet} {self.get_kind_display()} {self.pollutant_name}"


# ---------------------------------------------------------------- micro stations


class AqiPeriod(models.TextChoices):
    HOUR = "hour", _("实时（小时）")
    DAY = "day", _("日报")


class StationAqi(models.Model):
    """The AQI of a micro air station for one local hour or day, with the edition used."""

    point = models.ForeignKey(
        MonitoringPoint, models.CASCADE, related_name="+", verbose_name=_("微型站")
    )
    period = models.CharField(_("类型"), max_length=4, choices=AqiPeriod.choices)
    start = models.DateTimeField(_("时段开始"))
    edition = models.CharField(_("技术规定版本"), max_length=16)
    aqi = models.PositiveSmallIntegerField(_("AQI"), null=True, blank=True)
    level = models.PositiveSmallIntegerField(_("级别"), null=True, blank=True)
    primary = models.JSONField(_("首要污染物"), default=list)
    iaqi = models.JSONField(_("分指数"), default=dict)
    concentrations = models.JSONField(_("浓度"), default=dict)
    publishable = models.BooleanField(_("可发布"), default=True)
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("微型站AQI")
        verbose_name_plural = _("微型站AQI")
        ordering = ["-start"]
        constraints = [
            models.UniqueConstraint(fields=["point", "period", "start"], name="env_aqi_unique"),
        ]
        indexes = [models.Index(fields=["period", "start"], name="env_aqi_period")]

    def __str__(self) -> str:
        return f"{self.point_id} {self.period} {self.start:%Y-%m-%d %H:%M} AQI {self.aqi}"
