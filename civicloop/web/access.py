"""Which workspaces a user has, and whether they may take an action on a case.

Everything outside a user's scope is "not found" (404), as in the API; a permitted action that
the case's current state no longer allows (someone else was faster) is a conflict the user is
told about.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.http import Http404
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from civicloop.accounts.models import CENTRE_ROLES, UNIT_ROLES, Membership, Role, User
from civicloop.accounts.selectors import memberships_of, roles_of
from civicloop.cases.models import Case
from civicloop.cases.selectors import actions_for, is_staff_viewer, membership_covers
from civicloop.cases.workflow import ACTIONS
from civicloop.web.actions import STAFF_EXTRAS

# Reporter actions: the service checks the reporter, not a role.
_REPORTER_ACTIONS = frozenset({"reopen", "submit_draft", "rate"})
# Following is open to the public; one of the two is offered at a time.
_FOLLOW_ACTIONS = frozenset({"follow", "unfollow"})


@dataclass(frozen=True)
class Workspace:
    key: str
    label: Promise
    hint: Promise
    url_name: str

    @property
    def url(self) -> str:
        return reverse(self.url_name)


REPORT = Workspace("report", _("上报问题"), _("拍照、定位、选择分类"), "web:report")
MINE = Workspace("mine", _("我的上报"), _("查看进展、评价、重新打开"), "web:mine")
GRID = Workspace("grid", _("网格工作台"), _("本网格案件、核实核查、自处置"), "web:grid")
CENTRE = Workspace("centre", _("指挥中心"), _("受理、立案、派遣、督办、审批"), "web:centre")
UNIT = Workspace("unit", _("部门工作台"), _("签收、退回、处置反馈、延期缓办"), "web:unit")
DASHBOARD = Workspace("dashboard", _("考核看板"), _("结案率、按期率等指标与导出"), "web:dashboard")
INBOX = Workspace("inbox", _("消息"), _("与您有关的案件动态"), "web:inbox")


def workspaces_for(user: User) -> list[Workspace]:
    roles = roles_of(user)
    spaces = [REPORT, MINE]
    if Role.GRID_WORKER in roles:
        spaces.append(GRID)
    if roles & CENTRE_ROLES:
        spaces.append(CENTRE)
    if roles & UNIT_ROLES:
        spaces.append(UNIT)
    if roles & (CENTRE_ROLES | UNIT_ROLES) or user.is_superuser:
        spaces.append(DASHBOARD)
    spaces.append(INBOX)
    return spaces


def grid_memberships(user: User) -> list[Membership]:
    """The grid worker's memberships; a user without one has no grid workspace (404)."""
    found = [m for m in memberships_of(user) if m.role == Role.GRID_WORKER]
    if not found:
        raise Http404
    return found


def centre_memberships(user: User) -> list[Membership]:
    found = [m for m in memberships_of(user) if Role(m.role) in CENTRE_ROLES]
    if not found:
        raise Http404
    return found


def unit_memberships(user: User) -> list[Membership]:
    found = [m for m in memberships_of(user) if Role(m.role) in UNIT_ROLES and m.organisation_id]
    if not found:
        raise Http404
    return found


class ActionAccess(StrEnum):
    ALLOWED = "allowed"
    # The user could take this action on this case, but not in its current state.
    STALE = "stale"
    HIDDEN = "hidden"


def case_actions(user: User, case: Case) -> list[str]:
    """The table's actions open to the user, plus the staff extras (补充照片)."""
    names = actions_for(user, case)
    if is_staff_viewer(user, case):
        names += list(STAFF_EXTRAS)
    return names


def action_access(user: User, case: Case, name: str) -> ActionAccess:
    names = case_actions(user, case)
    if name in names:
        return ActionAccess.ALLOWED
    if name in _FOLLOW_ACTIONS and _FOLLOW_ACTIONS & set(names):
        return ActionAccess.STALE
    action = ACTIONS.get(name)
    if action is None:
        return ActionAccess.HIDDEN
    if name in _REPORTER_ACTIONS and case.reporter_id == user.pk:
        return ActionAccess.STALE
    if any(
        Role(m.role) in action.roles and membership_covers(m, case) for m in memberships_of(user)
    ):
        return ActionAccess.STALE
    return ActionAccess.HIDDEN
