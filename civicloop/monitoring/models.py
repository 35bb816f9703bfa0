"""Monitoring points (HJ 212 devices, identified by MN) and what they send.

Readings are the high-volume table: one row per (point, kind, code, data_time), monthly range
partitions on PostgreSQL (see migrations/0002 and docs/monitoring.md). Every time is UTC in
storage; device DataTime is China local time and is converted at the ingestion edge.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from civicloop.regions.models import Region


class ProtocolEdition(models.TextChoices):
    UNKNOWN = "unknown", _("未知")
    HJ212_2005 = "2005", _("HJ/T 212-2005")
    HJ212_2017 = "2017", _("HJ 212-2017")
    HJ212_2025 = "2025", _("HJ 212-2025")


class CrcVariant(models.TextChoices):
    STANDARD = "standard", _("标准 CRC16")
    MODBUS = "modbus", _("CRC-16/MODBUS")
    MODBUS_SWAPPED = "modbus_swapped", _("CRC-16/MODBUS（低字节在前）")


class PointKind(models.TextChoices):
    WASTEWATER_OUTLET = "wastewater_outlet", _("废水排放口")
    FLUE_GAS_OUTLET = "flue_gas_outlet", _("废气排放口")
    AMBIENT_MICRO_STATION = "ambient_micro_station", _("大气微型站")


class PointStatus(models.TextChoices):
    ACTIVE = "active", _("在线")
    OFFLINE = "offline", _("离线")
    DISABLED = "disabled", _("停用")


# The MinInterval values HJ 212-2017 allows (minutes, CN=1063/1064).
MINUTE_INTERVALS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)


class MonitoringPoint(models.Model):
    """One data logger (数采仪) at an outlet or station, identified by its MN."""

    mn = models.CharField(_("MN 编码"), max_length=24, unique=True)
    # HJ 212 devices send PW in clear on every packet; a hash would not protect anything.
    password = models.CharField(_("访问密码"), max_length=32)
    name = models.CharField(_("名称"), max_length=100)
    protocol_edition = models.CharField(
        _("协议版本"),
        max_length=8,
        choices=ProtocolEdition.choices,
        default=ProtocolEdition.UNKNOWN,
    )
    crc_variant = models.CharField(
        _("接受的 CRC 算法"),
        max_length=16,
        choices=CrcVariant.choices,
        default=CrcVariant.STANDARD,
    )
    system_code = models.CharField(
        _("系统编码 ST"),
        max_length=3,
        help_text=_("如 32 地表水体环境污染源、31 大气环境污染源、22 空气质量监测"),
    )
    kind = models.CharField(_("类型"), max_length=32, choices=PointKind.choices)
    minute_interval = models.PositiveSmallIntegerField(
        _("分钟数据间隔"),
        default=1,
        choices=[(value, str(value)) for value in MINUTE_INTERVALS],
        help_text=_("设备上传分钟数据（2051）的间隔，单位分钟；用于判断小时数据是否满 45 分钟"),
    )
    latitude = models.FloatField(_("纬度"), null=True, blank=True)
    longitude = models.FloatField(_("经度"), null=True, blank=True)
    region = models.ForeignKey(
        Region,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="monitoring_points",
        verbose_name=_("所属区域"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=PointStatus.choices, default=PointStatus.ACTIVE
    )
    last_seen_at = models.DateTimeField(_("最后通讯时间"), null=True, blank=True)
    last_data_time = models.DateTimeField(_("最新数据时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("监测点")
        verbose_name_plural = _("监测点")
        ordering = ["mn"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(latitude__isnull=True)
                | models.Q(latitude__gte=-90, latitude__lte=90),
                name="monitoring_point_latitude_range",
            ),
            models.CheckConstraint(
                condition=models.Q(longitude__isnull=True)
                | models.Q(longitude__gte=-180, longitude__lte=180),
                name="monitoring_point_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.mn}）"


class ReadingKind(models.IntegerChoices):
    """The HJ 212 command (CN) that carries the values."""

    REALTIME = 2011, _("实时数据")
    MINUTE = 2051, _("分钟数据")
    HOUR = 2061, _("小时数据")
    DAY = 2031, _("日数据")


class ReadingSource(models.IntegerChoices):
    DEVICE = 1, _("设备上传")
    COMPUTED = 2, _("平台计算")


class Reading(models.Model):
    """One factor of one data record: `w01018-Avg=…,w01018-Flag=N` at one DataTime.

    `data_time` is the sampling moment (real-time) or the start of the interval (minute, hour,
    day). The code is free text: unknown codes are kept. On PostgreSQL the primary key is
    (id, data_time) because the table is partitioned by data_time; `id` alone stays unique
    (one sequence), which is what Django and the admin rely on.
    """

    id = models.BigAutoField(primary_key=True)
    point = models.ForeignKey(
        MonitoringPoint,
        models.PROTECT,
        db_index=False,  # the unique (point, kind, code, data_time) index leads with point
        related_name="readings",
        verbose_name=_("监测点"),
    )
    kind = models.PositiveSmallIntegerField(_("数据类型"), choices=ReadingKind.choices)
    code = models.CharField(_("监测因子编码"), max_length=32)
    data_time = models.DateTimeField(_("数据时间"))
    rtd = models.FloatField(_("实时值"), null=True, blank=True)
    avg = models.FloatField(_("均值"), null=True, blank=True)
    min = models.FloatField(_("最小值"), null=True, blank=True)
    max = models.FloatField(_("最大值"), null=True, blank=True)
    cou = models.FloatField(_("累计值"), null=True, blank=True)
    zs_rtd = models.FloatField(_("折算实时值"), null=True, blank=True)
    zs_avg = models.FloatField(_("折算均值"), null=True, blank=True)
    zs_min = models.FloatField(_("折算最小值"), null=True, blank=True)
    zs_max = models.FloatField(_("折算最大值"), null=True, blank=True)
    flag = models.CharField(_("数据标记"), max_length=8, blank=True, default="")
    eflag = models.CharField(_("扩展标记"), max_length=8, blank=True, default="")
    sample_time = models.DateTimeField(_("采样时间"), null=True, blank=True)
    source = models.PositiveSmallIntegerField(
        _("来源"), choices=ReadingSource.choices, default=ReadingSource.DEVICE
    )
    received_at = models.DateTimeField(_("接收时间"))

    class Meta:
        verbose_name = _("监测数据")
        verbose_name_plural = _("监测数据")
        constraints = [
            models.UniqueConstraint(
                fields=["point", "kind", "code", "data_time"],
                name="monitoring_reading_unique_sample",
            ),
        ]
        indexes = [
            # All factors of one point and kind over a period: rollups, latest values.
            models.Index(fields=["point", "kind", "data_time"], name="monitoring_reading_period"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.data_time:%Y-%m-%d %H:%M}"


class FacilityStatusKind(models.IntegerChoices):
    RUN_STATE = 2021, _("设备运行状态")
    RUN_HOURS = 2041, _("设备日运行时间")


class RunState(models.IntegerChoices):
    """`SBxxx-RS` values of CN=2021 (HJ 212-2017 表4)."""

    OFF = 0, _("关闭")
    RUNNING = 1, _("运行")
    CALIBRATING = 2, _("校准")
    MAINTENANCE = 3, _("维护")
    ALARM = 4, _("报警")
    BACKFLUSH = 5, _("反吹")


class FacilityStatus(models.Model):
    """`SBxxx-RS` (CN=2021, state at a moment) or `SBxxx-RT` (CN=2041, hours run in a day)."""

    point = models.ForeignKey(
        MonitoringPoint,
        models.PROTECT,
        db_index=False,
        related_name="facility_statuses",
        verbose_name=_("监测点"),
    )
    kind = models.PositiveSmallIntegerField(_("数据类型"), choices=FacilityStatusKind.choices)
    code = models.CharField(_("设备编码"), max_length=32)
    data_time = models.DateTimeField(_("数据时间"))
    value = models.FloatField(_("值"), null=True, blank=True)
    received_at = models.DateTimeField(_("接收时间"))

    class Meta:
        verbose_name = _("设备运行状态")
        verbose_name_plural = _("设备运行状态")
        constraints = [
            models.UniqueConstraint(
                fields=["point", "kind", "code", "data_time"],
                name="monitoring_facility_status_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.data_time:%Y-%m-%d %H:%M}"


class SiteInfo(models.Model):
    """`ixxxxx-Info` values of CN=3020: instrument logs, states and parameters."""

    point = models.ForeignKey(
        MonitoringPoint,
        models.PROTECT,
        db_index=False,
        related_name="site_infos",
        verbose_name=_("监测点"),
    )
    data_time = models.DateTimeField(_("数据时间"))
    pol_id = models.CharField(_("监测因子编码"), max_length=32, blank=True, default="")
    info_id = models.CharField(_("信息编码"), max_length=32)
    value = models.TextField(_("信息内容"), blank=True, default="")
    received_at = models.DateTimeField(_("接收时间"))

    class Meta:
        verbose_name = _("现场机信息")
        verbose_name_plural = _("现场机信息")
        constraints = [
            models.UniqueConstraint(
                fields=["point", "pol_id", "info_id", "data_time"],
                name="monitoring_site_info_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.info_id} {self.data_time:%Y-%m-%d %H:%M}"


class FrameVerdict(models.TextChoices):
    ACCEPTED = "accepted", _("已接收")
    REJECTED = "rejected", _("已拒绝")


class RejectReason(models.TextChoices):
    CRC_MISMATCH = "crc_mismatch", _("CRC 校验错误")
    UNKNOWN_MN = "unknown_mn", _("未登记的 MN")
    BAD_PASSWORD = "bad_password", _("访问密码错误")
    POINT_DISABLED = "point_disabled", _("监测点已停用")
    LENGTH_MISMATCH = "length_mismatch", _("数据段长度不符")
    BAD_HEADER = "bad_header", _("包头错误")
    BAD_TAIL = "bad_tail", _("包尾错误")
    TRUNCATED = "truncated", _("数据包不完整")
    OVERSIZE = "oversize", _("数据包过长")
    MALFORMED = "malformed", _("数据段格式错误")


class RawFrame(models.Model):
    """Every packet as received, accepted or not, for audit and replay.

    `point` is null for quarantined frames (unknown MN, wrong password): they never become
    readings. Pruned after MONITORING_RAW_RETENTION_DAYS by `civicloop prune_raw_frames`.
    """

    received_at = models.DateTimeField(_("接收时间"))
    peer = models.CharField(_("来源地址"), max_length=64, blank=True, default="")
    mn = models.CharField(_("MN 编码"), max_length=64, blank=True, default="")
    cn = models.CharField(_("命令编码 CN"), max_length=8, blank=True, default="")
    verdict = models.CharField(_("结果"), max_length=16, choices=FrameVerdict.choices)
    reason = models.CharField(
        _("拒绝原因"), max_length=32, choices=RejectReason.choices, blank=True, default=""
    )
    crc_variant = models.CharField(
        _("CRC 算法"), max_length=16, choices=CrcVariant.choices, blank=True, default=""
    )
    detail = models.CharField(_("说明"), max_length=200, blank=True, default="")
    raw = models.BinaryField(_("原始报文"))
    point = models.ForeignKey(
        MonitoringPoint,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="raw_frames",
        verbose_name=_("监测点"),
    )

    class Meta:
        verbose_name = _("原始报文")
        verbose_name_plural = _("原始报文")
        indexes = [
            models.Index(fields=["received_at"], name="monitoring_rawframe_received"),
            models.Index(fields=["mn", "received_at"], name="monitoring_rawframe_mn"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(verdict=FrameVerdict.ACCEPTED, reason="", point__isnull=False)
                | models.Q(verdict=FrameVerdict.REJECTED) & ~models.Q(reason=""),
                name="monitoring_rawframe_verdict_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mn or '?'} {self.cn} {self.received_at:%Y-%m-%d %H:%M:%S}"
