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


class Stage(models.TextChoices):
    """The stage clocks of a case (civic-loop.md §5.5): each has its own time limit."""

    INTAKE = "intake", _("受理")
    VERIFY = "verify", _("核实")
    CLAIM = "claim", _("签收")
    DISPOSE = "dispose", _("处置")
    # Only a limit: a failed check restarts the disposal clock with it, when one is set.
    REWORK = "rework", _("返工")
    CHECK = "check", _("核查")


class SlaLevel(models.IntegerChoices):
    NORMAL = 0, _("正常")
    WARNING = 1, _("预警")
    OVERDUE = 2, _("超期")
    SERIOUS = 3, _("严重超期")


class TimeLimitVersion(models.Model):
    """One published set of time limits. A case keeps the version in force when it was
    reported, so its deadlines never change because an administrator edited the rules."""

    name = models.CharField(_("名称"), max_length=100)
    effective_from = models.DateTimeField(_("生效时间"))
    warn_percent = models.PositiveSmallIntegerField(_("预警比例（%）"), default=80)
    serious_percent = models.PositiveSmallIntegerField(_("严重超期比例（%）"), default=200)
    pause_while_returned = models.BooleanField(_("退回期间暂停计时"), default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("时限版本")
        verbose_name_plural = _("时限版本")
        ordering = ["-effective_from", "-id"]
        constraints = [
            # Warning before the deadline, serious after it: the levels come in order.
            models.CheckConstraint(
                condition=models.Q(warn_percent__gte=1, warn_percent__lte=100),
                name="time_limit_version_warn_percent",
            ),
            models.CheckConstraint(
                condition=models.Q(serious_percent__gte=100),
                name="time_limit_version_serious_percent",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TimeLimit(models.Model):
    """A time limit of one stage: for a 小类 (or a whole 大类, or every category), an urgency
    (or both) and a region (or everywhere). The most specific matching row wins: category
    first, then urgency, then the deepest region."""

    version = models.ForeignKey(
        TimeLimitVersion, models.CASCADE, related_name="limits", verbose_name=_("版本")
    )
    stage = models.CharField(_("阶段"), max_length=12, choices=Stage.choices)
    category = models.ForeignKey(
        "Category",
        models.CASCADE,
        null=True,
        blank=True,
        related_name="time_limits",
        verbose_name=_("分类"),
    )
    urgency = models.CharField(_("紧急程度"), max_length=8, blank=True)
    region = models.ForeignKey(
        Region, models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("区域")
    )
    value = models.PositiveIntegerField(_("时限"))
    unit = models.CharField(_("单位"), max_length=16, choices=LimitUnit.choices)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("时限")
        verbose_name_plural = _("时限")
        ordering = ["version", "stage", "category", "urgency"]
        indexes = [models.Index(fields=["version", "stage"])]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} {self.value} {self.get_unit_display()}"


class WorkCalendarDay(models.Model):
    """An exception to "Monday to Friday": a statutory holiday on a weekday, or a make-up
    working day (调休) on a weekend. Seeded from chinese-calendar; administrators add the
    next year when the State Council publishes it."""

    day = models.DateField(_("日期"), unique=True)
    is_working = models.BooleanField(_("上班"))
    name = models.CharField(_("名称"), max_length=50, blank=True)
    source = models.CharField(_("来源"), max_length=20, default="admin")
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("工作日历")
        verbose_name_plural = _("工作日历")
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {'上班' if self.is_working else '休息'} {self.name}"


class WorkingPeriod(models.Model):
    """A working period of every working day (e.g. 8:30–12:00 and 14:00–17:30)."""

    start = models.TimeField(_("开始"))
    end = models.TimeField(_("结束"))
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("工作时段")
        verbose_name_plural = _("工作时段")
        ordering = ["start"]

    def __str__(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


class SlaRevision(models.Model):
    """The time-limit configuration's revision, one row. Database triggers give it a new value
    whenever the calendar, the working periods, the time limits or their versions are written,
    by any process and by any means (the ORM, raw SQL, COPY, TRUNCATE), in the writing
    transaction. A process keeps the configuration it loaded together with the revision it
    read (`sla.config`), and every report and transition reads this one row to know that its
    copy is current. A value is never used twice (a sequence on PostgreSQL, a random 64-bit
    number on SQLite), so a change rolled back and another one written later cannot look like
    the copy a process loaded inside the rolled-back transaction."""

    id = models.SmallIntegerField(primary_key=True)
    value = models.BigIntegerField(_("版本号"))

    class Meta:
        verbose_name = _("时限配置版本号")
        verbose_name_plural = _("时限配置版本号")

    def __str__(self) -> str:
        return str(self.value)


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
    # Duplicate suggestions at report time: open cases of the same 小类 this near, this recent.
    duplicate_radius_m = models.PositiveIntegerField(_("查重半径（米）"), default=250)
    duplicate_window_days = models.PositiveIntegerField(_("查重时间窗（天）"), default=30)
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


# Sources where the reporter is a member of the public reporting for themselves (the others are
# registered by staff on someone's behalf: a 12345 call, a leader's instruction, a sensor).
PUBLIC_SOURCES = frozenset({Source.RESIDENT, Source.VOLUNTEER, Source.GRID_WORKER})


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


class Satisfaction(models.TextChoices):
    """The reporter's (or the 12345 回访's) rating of the result."""

    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    DISSATISFIED = "dissatisfied", _("不满意")


class SupervisionKind(models.TextChoices):
    """Manual supervision, weakest first: a reminder, supervision, listed (public) supervision."""

    URGE = "urge", _("催办")
    SUPERVISE = "supervise", _("督办")
    LISTED = "listed", _("挂牌督办")


SUPERVISION_RANK = {
    SupervisionKind.URGE: 1,
    SupervisionKind.SUPERVISE: 2,
    SupervisionKind.LISTED: 3,
}


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
    # Unique; PostgreSQL's extra `varchar_pattern_ops` index of it (for LIKE 'prefix%', which
    # nothing sends: the search is icontains) is dropped by migration 0007.
    number = models.CharField(_("案件编号"), max_length=20, unique=True)
    # No index of its own (nor PostgreSQL's LIKE twin): (state, town, -reported_at) leads with
    # it. Every index here is written by every report (see Meta.indexes).
    state = models.CharField(_("状态"), max_length=24, choices=State.choices)
    # Bumped by every transition; a transition only applies to the version it read (see
    # services._apply), so of two concurrent transitions exactly one wins.
    version = models.PositiveIntegerField(default=1)
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    # Indexed by (category, state), as reporter and assigned_org by theirs below.
    category = models.ForeignKey(
        Category, models.PROTECT, related_name="cases", verbose_name=_("分类"), db_index=False
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
        db_index=False,
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
        db_index=False,
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
    # The disposal clock stopped at the last submission; cleared when a check fails.
    disposed_at = models.DateTimeField(_("处置完成时间"), null=True, blank=True)
    # Frozen at close: the accepted submission came before the deadline.
    on_time = models.BooleanField(_("按期"), null=True, blank=True)
    # Frozen at the first intake decision (立案, 不予受理 or 合并): within the 受理 limit.
    intake_on_time = models.BooleanField(_("按时受理"), null=True, blank=True)
    was_returned = models.BooleanField(_("曾退回"), default=False)
    # [[start, end], ...] of approved suspensions (ISO instants; end null while suspended).
    suspended_intervals = models.JSONField(_("缓办区间"), default=list, blank=True)
    sla_version = models.ForeignKey(
        TimeLimitVersion,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("时限版本"),
    )
    satisfaction = models.CharField(
        _("满意度"), max_length=12, choices=Satisfaction.choices, blank=True
    )
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    # The strongest active supervision: the mark shown on the case.
    supervision = models.CharField(
        _("督办标记"), max_length=12, choices=SupervisionKind.choices, blank=True
    )
    # The highest level among the case's running clocks (raised by the sweep).
    sla_level = models.PositiveSmallIntegerField(
        _("超期等级"), choices=SlaLevel.choices, default=SlaLevel.NORMAL
    )
    updated_at = models.DateTimeField(_("更新时间"))
    # In the KPI rollups (cases.kpi_rollups): the instant by which every fact its indicators
    # compare with an evaluation instant had happened. Null while its indicators are computed
    # from its rows directly; set by the rollup worker, cleared when the case changes again.
    kpi_settled_at = models.DateTimeField(_("指标汇总截至"), null=True, blank=True)

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
            # The indicators (cases.kpis) read only these columns: index-only scans on
            # PostgreSQL (INCLUDE is ignored elsewhere).
            models.Index(
                fields=["due_at"],
                include=[
                    "state",
                    "closed_at",
                    "disposed_at",
                    "on_time",
                    "rework_count",
                    "source",
                    "closure_reason",
                    "town",
                    "assigned_org",
                    "category",
                ],
                condition=models.Q(filed_at__isnull=False),
                name="case_kpi_due",
            ),
            models.Index(
                fields=["source", "reported_at"],
                include=["state", "filed_at", "intake_on_time", "sla_level", "town", "reporter"],
                name="case_kpi_reported",
            ),
            models.Index(
                fields=["rated_at"],
                include=["source", "satisfaction", "town"],
                condition=models.Q(rated_at__isnull=False),
                name="case_kpi_rated",
            ),
            # The cases a report computes directly (not rolled, or settled after its cutoff);
            # a B-tree finds `IS NULL` too.
            models.Index(fields=["kpi_settled_at"], name="case_kpi_settled"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_STATES


class CaseCycle(models.Model):
    """A closed handling cycle (办理轮次) of a case that was reopened: the evaluation facts the
    case had when it was reopened, kept as they were so that the periods the cycle counted in
    keep their numbers (docs/kpis.md, "Reopened cases"). The case carries the facts of its
    current cycle. The columns the indicators read have the case's names, so a family's
    conditions, scope, filters and dimensions apply to these rows unchanged."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="cycles")
    # 1 for the first handling; the case's current cycle is `reopen_count + 1`.
    cycle = models.PositiveSmallIntegerField(_("办理轮次"))
    # Always 结案: only a closed case is reopened.
    state = models.CharField(_("状态"), max_length=24, choices=State.choices)
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    category = models.ForeignKey(Category, models.PROTECT, related_name="+", verbose_name=_("分类"))
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
    assigned_org = models.ForeignKey(
        Organisation,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("责任单位"),
    )
    closure_reason = models.CharField(
        _("结案类型"), max_length=20, choices=ClosureReason.choices, blank=True
    )
    rework_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    filed_at = models.DateTimeField(_("立案时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("处置期限"), null=True, blank=True)
    disposed_at = models.DateTimeField(_("处置完成时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    on_time = models.BooleanField(_("按期"), null=True, blank=True)
    satisfaction = models.CharField(
        _("满意度"), max_length=12, choices=Satisfaction.choices, blank=True
    )
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    reopened_at = models.DateTimeField(_("重新打开时间"))

    class Meta:
        verbose_name = _("办理轮次")
        verbose_name_plural = _("办理轮次")
        ordering = ["case", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["case", "cycle"], name="case_cycle_unique"),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=models.Q(filed_at__isnull=False),
                name="case_cycle_due",
            ),
            models.Index(
                fields=["rated_at"],
                condition=models.Q(rated_at__isnull=False),
                name="case_cycle_rated",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.cycle}"


# The fields a cycle copies from its case when it ends (all but its number and end).
CYCLE_FACTS = tuple(
    f.attname
    for f in CaseCycle._meta.concrete_fields
    if f.name not in ("id", "case", "cycle", "reopened_at")
)


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
    RECLASSIFIED = "reclassified", _("修改分类或位置")
    RECALLED = "recalled", _("撤回派遣")
    ASSIST_ADDED = "assist_added", _("增加会办单位")
    ASSIST_ENDED = "assist_ended", _("结束会办")
    FOLLOWED = "followed", _("我也遇到")
    UNFOLLOWED = "unfollowed", _("取消关注")
    MERGED_IN = "merged_in", _("并入重复案件")
    RATED = "rated", _("评价")
    SUPERVISED = "supervised", _("督办")
    SUPERVISION_LIFTED = "supervision_lifted", _("解除督办")
    SLA_WARNING = "sla_warning", _("临期预警")
    SLA_OVERDUE = "sla_overdue", _("超期")
    SLA_SERIOUS = "sla_serious", _("严重超期")


class CaseEvent(models.Model):
    """One immutable entry of a case's timeline; written only by cases.events."""

    # Indexed by the unique (case, seq).
    case = models.ForeignKey(Case, models.CASCADE, related_name="events", db_index=False)
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
    # The outbox marker: False until the listeners (notifications) have run for the event, in
    # the transaction that sets it (cases.events.deliver_pending). New events start False; the
    # database default True covers rows written outside the ORM (bulk loads, history), which
    # nobody is to be told about.
    delivered = models.BooleanField(_("已投递"), default=False, db_default=True)

    class Meta:
        verbose_name = _("案件记录")
        verbose_name_plural = _("案件记录")
        ordering = ["case", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="case_event_seq")]
        indexes = [
            # The outbox: the few events waiting for delivery, oldest first.
            models.Index(
                fields=["id"], condition=models.Q(delivered=False), name="case_event_undelivered"
            ),
        ]

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


class CaseClock(models.Model):
    """One stage clock of a case. Thresholds are instants computed in working time when the
    clock starts, resumes or is extended, so the sweep only compares them with now."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="clocks")
    stage = models.CharField(_("阶段"), max_length=12, choices=Stage.choices)
    started_at = models.DateTimeField(_("开始时间"))
    # The limit in working seconds (null: no limit for this stage, the clock only measures).
    limit_seconds = models.PositiveIntegerField(_("时限（工作秒）"), null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(_("暂停（工作秒）"), default=0)
    paused_at = models.DateTimeField(_("暂停时间"), null=True, blank=True)
    pauses = models.JSONField(_("暂停区间"), default=list, blank=True)
    warn_at = models.DateTimeField(_("预警时间"), null=True, blank=True)
    due_at = models.DateTimeField(_("期限"), null=True, blank=True)
    serious_at = models.DateTimeField(_("严重超期时间"), null=True, blank=True)
    level = models.PositiveSmallIntegerField(
        _("等级"), choices=SlaLevel.choices, default=SlaLevel.NORMAL
    )
    # When the next level is reached; null when stopped, paused, unlimited or at the top.
    next_level_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(_("停止时间"), null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("完成人"),
    )
    on_time = models.BooleanField(_("按时"), null=True, blank=True)
    # Its case's `kpi_settled_at` (cases.kpi_rollups), kept on the row so that a report finds the
    # clocks of the cases it computes directly without going through the cases.
    kpi_settled_at = models.DateTimeField(_("指标汇总截至"), null=True, blank=True)

    class Meta:
        verbose_name = _("阶段计时")
        verbose_name_plural = _("阶段计时")
        ordering = ["case", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "stage"],
                condition=models.Q(stopped_at__isnull=True),
                name="case_clock_one_running",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_level_at"],
                condition=models.Q(next_level_at__isnull=False),
                name="case_clock_sweep",
            ),
            models.Index(
                fields=["stage", "due_at"],
                include=["on_time", "stopped_at", "stopped_by"],
                name="case_clock_stage_due",
            ),
            # A report reads the unrolled clocks of one stage in its period: with the stage and
            # the deadline in this index that is one precise range, where the mark alone made
            # PostgreSQL AND it with the whole stage's deadlines (884,000 entries for 1M cases).
            models.Index(
                fields=["kpi_settled_at", "stage", "due_at"], name="case_clock_kpi_settled"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.stage} → {self.due_at}"

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None and self.paused_at is None


class Supervision(models.Model):
    """A 催办 / 督办 / 挂牌督办 issued on a case: who, when, what is required by when."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="supervisions")
    kind = models.CharField(_("类型"), max_length=12, choices=SupervisionKind.choices)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("督办人")
    )
    issuer_role = models.CharField(_("督办角色"), max_length=20)
    issuer_org = models.ForeignKey(
        Organisation,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("督办单位"),
    )
    issued_at = models.DateTimeField(_("督办时间"))
    due_at = models.DateTimeField(_("要求办结时间"), null=True, blank=True)
    note = models.TextField(_("督办要求"))
    lifted_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("解除人"),
    )

    class Meta:
        verbose_name = _("督办")
        verbose_name_plural = _("督办")
        ordering = ["case", "issued_at", "id"]
        indexes = [models.Index(fields=["case", "lifted_at"])]

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_kind_display()}"


class RoutingRule(models.Model):
    """Category (+ region) → the responsible organisation. For 事件 the territory decides first
    (先属地、后属主: the deepest matching region wins, then the most specific category); for 部件
    the owner decides first (先属主、后属地: the most specific category wins, then the region)."""

    kind = models.CharField(_("类别"), max_length=16, choices=CategoryKind.choices)
    category = models.ForeignKey(
        Category,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="routing_rules",
        verbose_name=_("分类（小类或大类，空为全部）"),
    )
    region = models.ForeignKey(
        Region,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("区域（空为全市）"),
    )
    organisation = models.ForeignKey(
        Organisation, models.CASCADE, related_name="routing_rules", verbose_name=_("责任单位")
    )
    auto_dispatch = models.BooleanField(_("立案后自动派遣"), default=False)
    priority = models.SmallIntegerField(_("优先级"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("派遣规则")
        verbose_name_plural = _("派遣规则")
        ordering = ["kind", "category", "region", "-priority"]
        indexes = [models.Index(fields=["kind", "is_active"])]

    def __str__(self) -> str:
        return f"{self.category or self.get_kind_display()} → {self.organisation}"


class DispatchOutcome(models.TextChoices):
    PENDING = "pending", _("待签收")
    CLAIMED = "claimed", _("已签收")
    RETURNED = "returned", _("已退回")
    RECALLED = "recalled", _("已撤回")


class Dispatch(models.Model):
    """One dispatch decision and its outcome, frozen when the unit claims or returns the case
    (派遣准确率 counts these)."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="dispatches")
    organisation = models.ForeignKey(
        Organisation, models.PROTECT, related_name="+", verbose_name=_("承办单位")
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("派遣人"),
    )
    by_role = models.CharField(_("派遣角色"), max_length=20, blank=True)
    at = models.DateTimeField(_("派遣时间"))
    is_auto = models.BooleanField(_("自动派遣"), default=False)
    rule = models.ForeignKey(RoutingRule, models.SET_NULL, null=True, blank=True, related_name="+")
    suggested = models.ForeignKey(
        Organisation,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("规则建议单位"),
    )
    outcome = models.CharField(
        _("结果"), max_length=12, choices=DispatchOutcome.choices, default=DispatchOutcome.PENDING
    )
    outcome_at = models.DateTimeField(_("结果时间"), null=True, blank=True)
    # Its case's `kpi_settled_at`, as on CaseClock.
    kpi_settled_at = models.DateTimeField(_("指标汇总截至"), null=True, blank=True)

    class Meta:
        verbose_name = _("派遣记录")
        verbose_name_plural = _("派遣记录")
        ordering = ["case", "at", "id"]
        indexes = [
            models.Index(fields=["at"], include=["outcome", "by"], name="dispatch_kpi_at"),
            models.Index(fields=["case", "outcome"]),
            models.Index(fields=["kpi_settled_at"], name="dispatch_kpi_settled"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.organisation_id} ({self.outcome})"


class CaseAssist(models.Model):
    """会办: an assisting unit next to the lead unit (`Case.assigned_org`). It sees the case and
    adds notes and evidence; the lead alone claims, returns and submits."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="assists")
    organisation = models.ForeignKey(
        Organisation, models.PROTECT, related_name="assisted_cases", verbose_name=_("会办单位")
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("指定人")
    )
    added_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    note = models.CharField(_("会办要求"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("会办单位")
        verbose_name_plural = _("会办单位")
        ordering = ["case", "added_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "organisation"],
                condition=models.Q(ended_at__isnull=True),
                name="case_assist_one_active",
            )
        ]
        indexes = [models.Index(fields=["organisation", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.case_id} + {self.organisation_id}"


class FollowVia(models.TextChoices):
    ME_TOO = "me_too", _("我也遇到")
    MERGED = "merged", _("重复案件合并")


class CaseFollower(models.Model):
    """Someone who follows a case they did not report: they see its public steps and are
    notified of them."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="followers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="followed_cases"
    )
    via = models.CharField(_("方式"), max_length=10, choices=FollowVia.choices)
    created_at = models.DateTimeField(_("关注时间"))

    class Meta:
        verbose_name = _("关注")
        verbose_name_plural = _("关注")
        constraints = [
            models.UniqueConstraint(fields=["case", "user"], name="case_follower_unique")
        ]
        indexes = [models.Index(fields=["user", "case"])]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.case_id}"


class KpiRollup(models.Model):
    """Sums of the indicator counters of rolled cases (cases.kpi_rollups), per indicator family,
    local day of the family's anchor, local day its rows settled (the last instant the family
    compares with an evaluation instant) and town. `n0` counts the rows; the other counters are
    the family's conditions (cases.kpis.ROLLUP_LAYOUTS). Region ids are plain integers, 0 for
    none, so that the key has no NULL and an upsert always finds its row."""

    family = models.CharField(max_length=20)
    day = models.DateField()
    settled = models.DateField()
    city = models.IntegerField(default=0)
    town = models.IntegerField(default=0)
    n0 = models.IntegerField(default=0)
    n1 = models.IntegerField(default=0)
    n2 = models.IntegerField(default=0)
    n3 = models.IntegerField(default=0)
    n4 = models.IntegerField(default=0)
    n5 = models.IntegerField(default=0)
    n6 = models.IntegerField(default=0)
    n7 = models.IntegerField(default=0)
    n8 = models.IntegerField(default=0)
    n9 = models.IntegerField(default=0)
    n10 = models.IntegerField(default=0)
    n11 = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("考核指标汇总")
        verbose_name_plural = _("考核指标汇总")
        constraints = [
            models.UniqueConstraint(
                fields=["family", "day", "settled", "city", "town"], name="kpi_rollup_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.family} {self.day} {self.town}"


ROLLUP_COUNTERS = 12  # n0 … n11
