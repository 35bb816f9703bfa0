"""Access-scoped reads. Views and API handlers never query enterprises, outlets or alerts
directly; outside the caller's scope an object is "not found", never "forbidden".

Who sees what:

* **Inspectors** — members (any role) of an environmental enforcement team (`EnforcementTeam`,
  and the city department `yw-hb` 金华市生态环境局义乌分局) — see every enterprise in the
  region of their membership, with permit copy, monitoring details, alerts and cases.
* **Departments with a data-sharing grant** read the data-sharing API for the grant's region.
* **Superusers** see everything.
* **The public** sees an outlet only through the signed URL of its QR code, and only what the
  permit system publishes (see views.outlet_page).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from civicloop.accounts.models import Organisation, User
from civicloop.accounts.selectors import memberships_of
from civicloop.environment import errors
from civicloop.environment.models import (
    Alert,
    DataShareGrant,
    EnforcementTeam,
    Enterprise,
    Outlet,
)
from civicloop.regions.models import Region

# The city's environmental enforcement department (accounts/demo.py CITY_UNITS "hb"): the team
# of the whole city unless an administrator configures others.
DEFAULT_ENFORCEMENT_ORG = "yw-hb"


def enforcement_org_ids() -> set[int]:
    teams = EnforcementTeam.objects.filter(is_active=True, organisation__is_active=True)
    ids = set(teams.values_list("organisation_id", flat=True))
    default = Organisation.objects.filter(code=DEFAULT_ENFORCEMENT_ORG, is_active=True)
    ids.update(default.values_list("pk", flat=True))
    return ids


def _active(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active)


def inspector_regions(user: User) -> list[Region]:
    """The regions in which `user` is an inspector (empty: not an inspector)."""
    if not _active(user):
        return []
    teams = enforcement_org_ids()
    return [m.region for m in memberships_of(user) if m.organisation_id in teams]


def is_inspector(user: User) -> bool:
    return _active(user) and (user.is_superuser or bool(inspector_regions(user)))


def _in_regions(regions: list[Region], prefix: str = "") -> Q:
    scope = Q(pk__in=[])
    for region in regions:
        scope |= Q(**{f"{prefix}town__path__startswith": region.path})
        scope |= Q(**{f"{prefix}village__path__startswith": region.path})
    return scope


def enterprise_queryset_for(user: User) -> QuerySet[Enterprise]:
    enterprises = Enterprise.objects.select_related("town", "village")
    if not _active(user):
        return enterprises.none()
    if user.is_superuser:
        return enterprises.all()
    return enterprises.filter(_in_regions(inspector_regions(user)))


def get_enterprise_for_user(user: User, uscc: str) -> Enterprise:
    enterprise = enterprise_queryset_for(user).filter(uscc=uscc).first()
    if enterprise is None:
        raise errors.enterprise_not_found()
    return enterprise


def outlet_queryset_for(user: User) -> QuerySet[Outlet]:
    outlets = Outlet.objects.select_related("enterprise__town", "monitoring_point")
    if not _active(user):
        return outlets.none()
    if user.is_superuser:
        return outlets.all()
    return outlets.filter(_in_regions(inspector_regions(user), "enterprise__"))


def get_outlet_for_user(user: User, outlet_id: int) -> Outlet:
    outlet = outlet_queryset_for(user).filter(pk=outlet_id).first()
    if outlet is None:
        raise errors.outlet_not_found()
    return outlet


def alert_queryset_for(user: User) -> QuerySet[Alert]:
    alerts = Alert.objects.select_related("outlet__enterprise", "case")
    if not _active(user):
        return alerts.none()
    if user.is_superuser:
        return alerts.all()
    return alerts.filter(_in_regions(inspector_regions(user), "outlet__enterprise__"))


# ---------------------------------------------------------------- data sharing


def share_regions(user: User) -> list[Region]:
    """Regions whose data `user` may read through the data-sharing API."""
    if not _active(user):
        return []
    orgs = {m.organisation_id for m in memberships_of(user) if m.organisation_id}
    grants = DataShareGrant.objects.filter(
        organisation_id__in=orgs, is_active=True, organisation__is_active=True
    ).select_related("region")
    return [grant.region for grant in grants] + inspector_regions(user)


def shared_enterprises_for(user: User) -> QuerySet[Enterprise]:
    """Enterprises readable through the data-sharing API; `Forbidden` without any grant."""
    enterprises = Enterprise.objects.select_related("town", "village")
    if _active(user) and user.is_superuser:
        return enterprises.all()
    regions = share_regions(user)
    if not regions:
        raise errors.share_forbidden()
    return enterprises.filter(_in_regions(regions))


def get_shared_enterprise(user: User, uscc: str) -> Enterprise:
    enterprise = shared_enterprises_for(user).filter(uscc=uscc).first()
    if enterprise is None:
        raise errors.enterprise_not_found()
    return enterprise


def get_shared_outlet(user: User, outlet_id: int) -> Outlet:
    enterprises = shared_enterprises_for(user)
    outlet = (
        Outlet.objects.select_related("enterprise", "monitoring_point")
        .filter(pk=outlet_id, enterprise__in=enterprises)
        .first()
    )
    if outlet is None:
        raise errors.outlet_not_found()
    return outlet
