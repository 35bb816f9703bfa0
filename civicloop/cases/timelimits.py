"""Publishing time-limit versions (docs/sla.md). A version is a complete set: the stage limits
copied from the previous version and a snapshot of every 小类's own 处置时限, so later edits of
a category never change the deadlines of cases reported under an older version."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from civicloop.cases import errors
from civicloop.cases.errors import Code
from civicloop.cases.models import (
    Category,
    Stage,
    TimeLimit,
    TimeLimitVersion,
    Urgency,
)


@transaction.atomic
def time_limit_version_create(
    *,
    name: str,
    effective_from: datetime,
    copy_from: TimeLimitVersion | None = None,
    snapshot_categories: bool = True,
    warn_percent: int = 80,
    serious_percent: int = 200,
    pause_while_returned: bool = True,
    note: str = "",
) -> TimeLimitVersion:
    name = name.strip()
    if not name:
        raise errors.invalid(Code.LIMITS_INVALID, _("请填写时限版本名称"))
    if not (1 <= warn_percent <= 100 <= serious_percent):
        raise errors.invalid(
            Code.LIMITS_INVALID, _("预警比例应在1%～100%之间，严重超期比例不低于100%")
        )
    version = TimeLimitVersion.objects.create(
        name=name,
        effective_from=effective_from,
        warn_percent=warn_percent,
        serious_percent=serious_percent,
        pause_while_returned=pause_while_returned,
        note=note.strip(),
    )
    if copy_from is not None:
        _copy_rules(copy_from, version)
    if snapshot_categories:
        _snapshot_categories(version)
    return version


def _copy_rules(source: TimeLimitVersion, target: TimeLimitVersion) -> None:
    TimeLimit.objects.bulk_create(
        TimeLimit(
            version=target,
            stage=rule.stage,
            category_id=rule.category_id,
            urgency=rule.urgency,
            region_id=rule.region_id,
            value=rule.value,
            unit=rule.unit,
        )
        for rule in source.limits.all()
    )


def _snapshot_categories(version: TimeLimitVersion) -> None:
    """A 处置 rule per 小类 and urgency from the category's own limits, unless one exists."""
    taken = set(
        version.limits.filter(
            stage=Stage.DISPOSE, region__isnull=True, category__isnull=False
        ).values_list("category_id", "urgency")
    )
    rows = []
    for category in Category.objects.filter(parent__isnull=False, is_active=True):
        for urgency, value, unit in (
            (Urgency.NORMAL, category.limit_normal, category.limit_normal_unit),
            (Urgency.URGENT, category.limit_urgent, category.limit_urgent_unit),
        ):
            if value and (category.pk, urgency) not in taken:
                rows.append(
                    TimeLimit(
                        version=version,
                        stage=Stage.DISPOSE,
                        category=category,
                        urgency=urgency,
                        value=value,
                        unit=unit,
                    )
                )
    TimeLimit.objects.bulk_create(rows)
