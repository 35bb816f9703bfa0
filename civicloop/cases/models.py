from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicloop.accounts.models import Organisation
from civicloop.regions.models import Level, Region


class CategoryKind(models.TextChoices):
    COMPONENT = "component", _("部件")
    EVENT = "event", _("事件")


class LimitUnit(models.TextChoices):
    WORKING_HOURS = "working_hours", _("工作时")
    WORKING_DAYS = "working_days", _("工作日")


class Category(models.Model):
    """部件/事件 大类 (parent is null) and 小类 (parent is a 大类), GB/T 30428.2 style.

    Loaded as data and editable by an administrator; cases reference a 小类.
    """

    kind = models.CharField(_("类别"), max_length=16, choices=CategoryKind.choices)
    parent = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("大类"),
    )
    code = models.CharField(_("编码"), max_length=8)
    # 大类 code + 小类 code ("0102"); unique within a kind.
    full_code = models.CharField(_("完整编码"), max_length=16, editable=False)
    name = models.CharField(_("名称"), max_length=50)
    pinyin = models.CharField(_("拼音首字母"), max_length=30, blank=True)
    keywords = models.CharField(_("关键词"), max_length=200, blank=True)
    filing_standard = models.CharField(_("立案标准"), max_length=300, blank=True)
    closing_standard = models.CharField(_("结案标准"), max_length=300, blank=True)
    default_owner = models.CharField(_("默认责任部门编码"), max_length=16, blank=True)
    # Time limits for the disposal stage (处置时限); issue "deadlines" refines them per region.
    limit_normal = models.PositiveIntegerField(_("一般时限"), default=0)
    limit_normal_unit = models.CharField(
        _("一般时限单位"), max_length=16, choices=LimitUnit.choices, default=LimitUnit.WORKING_HOURS
    )
    limit_urgent = models.PositiveIntegerField(_("紧急时限"), default=0)
    limit_urgent_unit = models.CharField(
        _("紧急时限单位"), max_length=16, choices=LimitUnit.choices, default=LimitUnit.WORKING_HOURS
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("案件分类")
        verbose_name_plural = _("案件分类")
        ordering = ["kind", "full_code"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "full_code"], name="category_code_unique"),
        ]

    def __str__(self) -> str:
        if self.parent is None:
            return f"{self.get_kind_display()}/{self.name}"
        return f"{self.get_kind_display()}/{self.parent.name}/{self.name}"

    @property
    def is_minor(self) -> bool:
        return self.parent_id is not None


class State(models.TextChoices):
    """The unified state machine of civic-loop.md §5.5."""

    DRAFT = "draft", _("草稿")
    REPORTED = "reported", _("已上报·待受理")
    VERIFYING = "verifying", _("待核实")
    REJECTED = "rejected", _("不予受理")
    MERGED = "merged", _("已合并")
    FILED = "filed", _("已立案")
    DISPATCHED = "dispatched", _("已派遣·待签收")
    RETURNED = "returned", _("已退回")
    ACCEPTED = "accepted", _("已签收·处置中")
    EXTENSION_REQUESTED = "extension_requested", _("延期申请中")
    SUSPENSION_REQUESTED = "suspension_requested", _("缓办申请中")
    SUSPENDED = "suspended", _("缓办")
    SUBMITTED = "submitted", _("已处置·待核查")
    REWORK = "rework", _("返工")
    CLOSED = "closed", _("已结案")
    REOPENED = "reopened", _("重新打开")


CLOSED_STATES = frozenset({State.REJECTED, State.MERGED, State.CLOSED})


class Source(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员上报")
    VOLUNTEER = "volunteer", _("志愿者上报")
    RESIDENT = "resident", _("居民上报")
    HOTLINE = "hotline_12345", _("12345热线")
    LEADER = "leader", _("领导交办")
    DEPARTMENT = "department", _("部门转办")
    SENSOR = "sensor", _("在线监测")
    INSPECTION = "inspection", _("现场检查")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("一般")
    URGENT = "urgent", _("紧急")


class ClosureReason(models.TextChoices):
    FIXED = "fixed", _("已解决")
    NO_FURTHER_ACTION = "no_further_action", _("无需处理")
    NOT_RESPONSIBLE = "not_responsible", _("非职责范围")
    CANCELLED = "cancelled", _("已撤销")


class RejectReason(models.TextChoices):
    OUT_OF_SCOPE = "out_of_scope", _("不属于受理范围")
    DUPLICATE = "duplicate", _("重复上报")
    INVALID = "invalid", _("信息无效或无法核实")
    RESOLVED = "resolved", _("问题已不存在")


class ReturnReason(models.TextChoices):
    NOT_OUR_DUTY = "not_our_duty", _("非本单位职责")
    WRONG_LOCATION = "wrong_location", _("位置不清或不在辖区")
    WRONG_CATEGORY = "wrong_category", _("分类错误")
    INSUFFICIENT_INFO = "insufficient_info", _("信息不全")
    OTHER = "other", _("其他")


class CaseQuerySet(models.QuerySet["Case"]):
    def open(self) -> CaseQuerySet:
        return self.exclude(state__in=CLOSED_STATES)

    def in_area(self, region: Region) -> CaseQuerySet:
        """Cases located in the region or below it."""
        if region.level == Level.CITY:
            return self.filter(city=region)
        if region.level == Level.TOWN:
            return self.filter(town=region)
        if region.level == Level.VILLAGE:
            return self.filter(village=region)
        return self.filter(grid__path__startswith=region.path)


class Case(models.Model):
    number = models.CharField(_("案件编号"), max_length=20, unique=True)
    state = models.CharField(_("状态"), max_length=24, choices=State.choices, db_index=True)
    # Bumped by every transition; a transition only applies to the version it read (see
    # services._apply), so of two concurrent transitions exactly one wins.
    version = models.PositiveIntegerField(default=1)
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    category = models.ForeignKey(
        Category, models.PROTECT, related_name="cases", verbose_name=_("分类")
    )
    description = models.TextField(_("问题描述"))
    urgency = models.CharField(
        _("紧急程度"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL
    )
    lat = models.FloatField(_("纬度"))
    lon = models.FloatField(_("经度"))
    address = models.CharField(_("地址"), max_length=200, blank=True)
    city = models.ForeignKey(
        Region, models.PROTECT, related_name="+", null=True, verbose_name=_("市")
    )
    town = models.ForeignKey(
        Region, models.PROTECT, related_name="+", null=True, verbose_name=_("镇街")
    )
    village = models.ForeignKey(
        Region, models.PROTECT, related_name="+", null=True, blank=True, verbose_name=_("村社")
    )
    grid = models.ForeignKey(
        Region, models.PROTECT, related_name="+", null=True, blank=True, verbose_name=_("网格")
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="reported_cases",
        verbose_name=_("上报人"),
    )
    reporter_name = models.CharField(_("上报人姓名"), max_length=50, blank=True)
    reporter_phone = models.CharField(_("上报人电话"), max_length=20, blank=True)
    is_anonymous = models.BooleanField(_("匿名"), default=False)
    assigned_org = models.ForeignKey(
        Organisation,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_cases",
        verbose_name=_("责任单位"),
    )
    parent = models.ForeignKey(
        "self",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_children",
        verbose_name=_("合并至"),
    )
    resolved_on_spot = models.BooleanField(_("自处置"), default=False)
    closure_reason = models.CharField(
        _("结案类型"), max_length=20, choices=ClosureReason.choices, blank=True
    )
    # Evaluation facts, frozen at transition time (civic-loop.md §6.6).
    dispatch_count = models.PositiveSmallIntegerField(_("派遣次数"), default=0)
    return_count = models.PositiveSmallIntegerField(_("退回次数"), default=0)
    rework_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("重新打开次数"), default=0)
    # Set by a passing 核查 on the current submission; cleared by the next submission.
    checked_at = models.DateTimeField(_("核查通过时间"), null=True, blank=True)
    reported_at = models.DateTimeField(_("上报时间"))
    filed_at = models.DateTimeField(_("立案时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("处置期限"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"))

    objects = CaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        ordering = ["-reported_at", "-id"]
        indexes = [
            models.Index(fields=["state", "town", "-reported_at"]),
            models.Index(fields=["assigned_org", "state"]),
            models.Index(fields=["reporter", "-reported_at"]),
            models.Index(fields=["category", "state"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_STATES


class CaseNumberSequence(models.Model):
    """The last case number handed out per local day and prefix."""

    prefix = models.CharField(max_length=8)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prefix", "day"], name="case_number_day_unique")
        ]

    def __str__(self) -> str:
        return f"{self.prefix}{self.day:%Y%m%d}:{self.last}"


class EventType(models.TextChoices):
    REPORTED = "reported", _("上报")
    DRAFTED = "drafted", _("保存草稿")
    VERIFICATION_REQUESTED = "verification_requested", _("派核实")
    SITE_CONFIRMED = "site_confirmed", _("现场核实")
    FILED = "filed", _("立案")
    REJECTED = "rejected", _("不予受理")
    REINSTATED = "reinstated", _("恢复受理")
    MERGED = "merged", _("合并")
    DISPATCHED = "dispatched", _("派遣")
    RETURNED = "returned", _("退回")
    CLAIMED = "claimed", _("签收")
    EXTENSION_REQUESTED = "extension_requested", _("申请延期")
    EXTENSION_APPROVED = "extension_approved", _("批准延期")
    EXTENSION_DENIED = "extension_denied", _("驳回延期")
    SUSPENSION_REQUESTED = "suspension_requested", _("申请缓办")
    SUSPENSION_APPROVED = "suspension_approved", _("批准缓办")
    SUSPENSION_DENIED = "suspension_denied", _("驳回缓办")
    RESUMED = "resumed", _("恢复处置")
    SUBMITTED = "submitted", _("处置反馈")
    CHECK_PASSED = "check_passed", _("核查通过")
    CHECK_FAILED = "check_failed", _("核查不通过")
    CLOSED = "closed", _("结案")
    REOPENED = "reopened", _("重新打开")
    NOTE = "note", _("备注")
    PUBLIC_UPDATE = "public_update", _("公开进展")
    PHOTOS_ADDED = "photos_added", _("补充照片")


class CaseEvent(models.Model):
    """One immutable entry of a case's timeline; written only by cases.events."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField(_("序号"))
    type = models.CharField(_("类型"), max_length=32, choices=EventType.choices)
    at = models.DateTimeField(_("时间"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    actor_role = models.CharField(_("操作角色"), max_length=20, blank=True)
    actor_org = models.ForeignKey(
        Organisation,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作单位"),
    )
    from_state = models.CharField(_("原状态"), max_length=24, blank=True)
    to_state = models.CharField(_("新状态"), max_length=24, blank=True)
    reason = models.CharField(_("原因"), max_length=32, blank=True)
    note = models.TextField(_("说明"), blank=True)
    is_public = models.BooleanField(_("公开"), default=True)
    data = models.JSONField(_("附加数据"), default=dict, blank=True)

    class Meta:
        verbose_name = _("案件记录")
        verbose_name_plural = _("案件记录")
        ordering = ["case", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="case_event_seq")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.type}"


class PhotoKind(models.TextChoices):
    BEFORE = "before", _("处置前")
    AFTER = "after", _("处置后")
    EVIDENCE = "evidence", _("核实/核查")


def _public_path(instance: Photo, filename: str) -> str:
    return f"cases/{instance.sha256[:2]}/{instance.sha256}-public.{filename.rsplit('.', 1)[-1]}"


class Photo(models.Model):
    """A photo attached to a case. The original (with EXIF) is evidence kept privately; the
    public copy is stripped of all metadata."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="photos")
    event = models.ForeignKey(
        CaseEvent, models.PROTECT, null=True, blank=True, related_name="photos"
    )
    kind = models.CharField(_("类型"), max_length=10, choices=PhotoKind.choices)
    # A name in the "private" storage (settings.STORAGES), never served directly.
    original = models.CharField(_("原图"), max_length=200)
    public = models.FileField(_("公开图"), upload_to=_public_path, max_length=200)
    content_type = models.CharField(max_length=40)
    extension = models.CharField(max_length=8)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    taken_at = models.DateTimeField(_("拍摄时间"), null=True, blank=True)
    gps_lat = models.FloatField(_("拍摄纬度"), null=True, blank=True)
    gps_lon = models.FloatField(_("拍摄经度"), null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上传时间"))

    class Meta:
        verbose_name = _("照片")
        verbose_name_plural = _("照片")
        ordering = ["case", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.sha256[:8]}"
