"""Monitoring points for simulated devices, and the ones the demo shows live.

from civicloop.ingest.demo import register_demo_points
specs = register_demo_points()          # idempotent
# then: civicloop ingest & civicloop hj212 simulate --demo --rate 1/10 --duration 600

The live demo feeds the five devices below and every other registered point whose MN starts
with `DEMO_MN_PREFIX` (the environment demo's wastewater outlets and micro air stations), as
long as the point is active: a point the demo tells as offline stays silent.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from civicloop.ingest.hj212 import Edition
from civicloop.ingest.records import CRC_TO_POINT
from civicloop.ingest.simulator import DeviceKind, DeviceSpec
from civicloop.monitoring.models import (
    CrcVariant as PointCrc,
)
from civicloop.monitoring.models import (
    MonitoringPoint,
    PointKind,
    PointStatus,
    ProtocolEdition,
)

DEMO_PASSWORD = "123456"
DEMO_MN_PREFIX = "33078200DEMO"
# The seed question: "浪莎废水排放在线监测情况如何？周边大气微型站的监测数据怎么样？"
DEMO_DEVICES: tuple[DeviceSpec, ...] = (
    DeviceSpec(
        mn="33078200LS00000000WW0001",
        pw=DEMO_PASSWORD,
        edition=Edition.HJ212_2017,
        kind=DeviceKind.WASTEWATER,
        name="浪莎针织有限公司 废水总排口",
        latitude=29.3161,
        longitude=120.0937,
    ),
    DeviceSpec(
        mn="33078200LS00000000AQ0001",
        pw=DEMO_PASSWORD,
        edition=Edition.HJ212_2017,
        kind=DeviceKind.AIR,
        name="浪莎针织周边 大气微型站 1 号",
        latitude=29.3178,
        longitude=120.0951,
    ),
    DeviceSpec(
        mn="33078200LS00000000AQ0002",
        pw=DEMO_PASSWORD,
        edition=Edition.HJ212_2017,
        kind=DeviceKind.AIR,
        name="浪莎针织周边 大气微型站 2 号",
        latitude=29.3142,
        longitude=120.0915,
    ),
    DeviceSpec(
        mn="33078200YW000000WW0002",
        pw=DEMO_PASSWORD,
        edition=Edition.HJT212_2005,
        kind=DeviceKind.WASTEWATER,
        name="义乌市某印染企业 废水总排口（HJ/T 212-2005 设备）",
        latitude=29.2987,
        longitude=120.0612,
    ),
    DeviceSpec(
        mn="33078200YW000000AQ0003",
        pw=DEMO_PASSWORD,
        edition=Edition.HJT212_2005,
        kind=DeviceKind.AIR,
        name="稠城街道 大气微型站（HJ/T 212-2005 设备）",
        latitude=29.3071,
        longitude=120.0786,
    ),
)
_POINT_KINDS = {
    DeviceKind.WASTEWATER: PointKind.WASTEWATER_OUTLET,
    DeviceKind.AIR: PointKind.AMBIENT_MICRO_STATION,
}
_KIND_LABELS = {DeviceKind.WASTEWATER: "废水", DeviceKind.AIR: "大气"}
# Flue-gas outlets are not simulated: the simulator has wastewater and ambient-air profiles.
_DEVICE_KINDS = {kind: device for device, kind in _POINT_KINDS.items()}
_POINT_TO_CRC = {point: crc for crc, point in CRC_TO_POINT.items()}


def point_for(spec: DeviceSpec) -> MonitoringPoint:
    edition = spec.edition.value if spec.edition.value in ProtocolEdition.values else "unknown"
    return MonitoringPoint(
        mn=spec.mn,
        password=spec.pw,
        name=spec.name or f"模拟设备 {spec.mn}（{_KIND_LABELS[spec.kind]}，HJ 212-{edition}）",
        protocol_edition=ProtocolEdition.UNKNOWN,  # the listener detects and records it
        crc_variant=CRC_TO_POINT[spec.crc],
        system_code=spec.st,
        kind=_POINT_KINDS[spec.kind],
        latitude=spec.latitude,
        longitude=spec.longitude,
    )


@transaction.atomic
def register_points(specs: Sequence[DeviceSpec]) -> int:
    """Create a monitoring point for every MN not registered yet; return how many were new."""
    known = set(
        MonitoringPoint.objects.filter(mn__in=[spec.mn for spec in specs]).values_list(
            "mn", flat=True
        )
    )
    new = [point_for(spec) for spec in specs if spec.mn not in known]
    MonitoringPoint.objects.bulk_create(new, batch_size=2000)
    return len(new)


def register_demo_points() -> list[DeviceSpec]:
    """The demo's live devices: the 浪莎 outlet and its micro stations (registered here,
    idempotently), then the active demo points other loaders registered."""
    register_points(DEMO_DEVICES)
    return list(DEMO_DEVICES) + registered_demo_specs()


def registered_demo_specs() -> list[DeviceSpec]:
    points = MonitoringPoint.objects.filter(
        mn__startswith=DEMO_MN_PREFIX, kind__in=_DEVICE_KINDS, status=PointStatus.ACTIVE
    ).order_by("mn")
    return [
        DeviceSpec(
            mn=point.mn,
            pw=point.password,
            edition=Edition.HJ212_2017,
            kind=_DEVICE_KINDS[PointKind(point.kind)],
            crc=_POINT_TO_CRC[PointCrc(point.crc_variant)],
            name=point.name,
            latitude=point.latitude,
            longitude=point.longitude,
        )
        for point in points
    ]
