"""Who a user is allowed to act as, and where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from civicloop.accounts.models import (
    CENTRE_ROLES,
    UNIT_ROLES,
    ApiToken,
    Membership,
    Organisation,
    Role,
    User,
    hash_token,
)
from civicloop.lib import clock, rows
from civicloop.regions.models import Region


@dataclass(frozen=True)
class Actor:
    """A user acting in one of their roles: what every case event records."""

    user: User
    role: Role
    organisation: Organisation | None
    region: Region | None


# What `Membership.objects.active().filter(user=…).select_related("organisation", "region")
# .order_by("id")` reads, built once: every request that acts reads it (a report, a transition).
_ACTIVE_MEMBERSHIPS = rows.Select(
    Membership,
    "t0.user_id = %s AND t0.is_active = %s",
    related=("organisation", "region"),
    order="t0.id",
)


def memberships_of(user: User) -> list[Membership]:
    """The user's active memberships, loaded once per user object (i.e. per request)."""
    cached: list[Membership] | None = getattr(user, "_civicloop_memberships", None)
    if cached is None:
        cached = _ACTIVE_MEMBERSHIPS.all([user.pk, True])
        user._civicloop_memberships = cached  # type: ignore[attr-defined]
    return cached


def memberships_branch(user: User, using: str) -> rows.Branch | None:
    """The SELECT `memberships_of(user)` sends, as a branch of a statement the caller sends
    anyway (`rows.union`); its rows go to `memberships_loaded`. None: already loaded."""
    if getattr(user, "_civicloop_memberships", None) is not None:
        return None
    return _ACTIVE_MEMBERSHIPS.branch([user.pk, True], using)


def memberships_loaded(user: User, found: list[tuple[Any, ...]], using: str) -> None:
    """`memberships_of(user)` from now on: the rows of `memberships_branch` the caller read."""
    user._civicloop_memberships = _ACTIVE_MEMBERSHIPS.instances(found, using)  # type: ignore[attr-defined]


def roles_of(user: User) -> set[Role]:
    return {Role(m.role) for m in memberships_of(user)}


def has_centre_role(user: User) -> bool:
    return bool(roles_of(user) & CENTRE_ROLES)


def has_unit_role(user: User) -> bool:
    return bool(roles_of(user) & UNIT_ROLES)


def user_for_token(key: str) -> User | None:
    token = (
        ApiToken.objects.filter(key_hash=hash_token(key), is_active=True, user__is_active=True)
        .select_related("user")
        .first()
    )
    if token is None:
        return None
    # One write per use at most once a minute keeps busy clients from hammering the row.
    now = clock.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def organisations_for_dispatch(region: Region) -> list[Organisation]:
    """Units a case in `region` can be dispatched to: those of the town and the city."""
    codes = region.ancestor_codes()
    return list(
        Organisation.objects.filter(is_active=True, region__code__in=codes)
        .filter(Q(kind="department") | Q(kind="platform") | Q(kind="community"))
        .select_related("region")
        .order_by("region__path", "code")
    )
