"""The transition table of civic-loop.md §5.5, as data.

Each action names the states it starts from, the state it leads to and the roles that may take
it. Services look their action up here, so the table is the single place to read (or change)
who may do what when. `None` as target means the state does not change (a record-only action).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from civicloop.accounts.models import Role
from civicloop.cases.models import EventType, State

R = Role
S = State

INTAKE = frozenset({R.INTAKE_CLERK, R.SHIFT_LEAD})
DISPATCH = frozenset({R.DISPATCHER, R.SHIFT_LEAD})
UNIT = frozenset({R.UNIT_HANDLER, R.UNIT_HEAD})
CHECK = frozenset({R.VERIFIER, R.GRID_WORKER, R.SHIFT_LEAD})
SITE = frozenset({R.GRID_WORKER, R.VERIFIER})
SUPERVISORS = frozenset({R.INTAKE_CLERK, R.DISPATCHER, R.SHIFT_LEAD, R.EVALUATOR, R.ADMINISTRATOR})
SENIOR = frozenset({R.SHIFT_LEAD, R.EVALUATOR, R.ADMINISTRATOR})
# Open states after the report was submitted: where supervision makes sense.
OPEN = {
    S.REPORTED,
    S.VERIFYING,
    S.FILED,
    S.DISPATCHED,
    S.RETURNED,
    S.ACCEPTED,
    S.EXTENSION_REQUESTED,
    S.SUSPENSION_REQUESTED,
    S.SUSPENDED,
    S.SUBMITTED,
    S.REWORK,
    S.REOPENED,
}
CENTRE_DESK = INTAKE | DISPATCH
# From dispatch until the unit's work is checked: while a lead unit holds the case.
AT_UNIT = {
    S.DISPATCHED,
    S.ACCEPTED,
    S.EXTENSION_REQUESTED,
    S.SUSPENSION_REQUESTED,
    S.SUSPENDED,
    S.SUBMITTED,
    S.REWORK,
}
STAFF_NOTE = frozenset(
    {R.INTAKE_CLERK, R.DISPATCHER, R.SHIFT_LEAD, R.VERIFIER, R.EVALUATOR, R.GRID_WORKER} | UNIT
)


@dataclass(frozen=True)
class Action:
    name: str
    label: Promise
    sources: frozenset[State]
    target: State | None
    roles: frozenset[Role]
    event: EventType


def _action(
    name: str,
    label: Promise,
    sources: set[State],
    target: State | None,
    roles: frozenset[Role],
    event: EventType,
) -> Action:
    return Action(name, label, frozenset(sources), target, roles, event)


_ACTIONS = [
    _action("submit_draft", _("提交草稿"), {S.DRAFT}, S.REPORTED, frozenset(), EventType.REPORTED),
    _action(
        "request_verification",
        _("派核实"),
        {S.REPORTED},
        S.VERIFYING,
        INTAKE,
        EventType.VERIFICATION_REQUESTED,
    ),
    _action("confirm_on_site", _("现场核实"), {S.VERIFYING}, None, SITE, EventType.SITE_CONFIRMED),
    _action(
        "file", _("立案"), {S.REPORTED, S.VERIFYING, S.REOPENED}, S.FILED, INTAKE, EventType.FILED
    ),
    _action(
        "reject",
        _("不予受理"),
        {S.REPORTED, S.VERIFYING, S.RETURNED},
        S.REJECTED,
        INTAKE,
        EventType.REJECTED,
    ),
    _action("reinstate", _("恢复受理"), {S.REJECTED}, S.REPORTED, INTAKE, EventType.REINSTATED),
    _action("merge", _("合并"), {S.REPORTED, S.VERIFYING}, S.MERGED, INTAKE, EventType.MERGED),
    _action(
        "dispatch",
        _("派遣"),
        {S.FILED, S.RETURNED},
        S.DISPATCHED,
        DISPATCH,
        EventType.DISPATCHED,
    ),
    _action("recall", _("撤回派遣"), {S.DISPATCHED}, S.FILED, DISPATCH, EventType.RECALLED),
    _action("return", _("退回"), {S.DISPATCHED}, S.RETURNED, UNIT, EventType.RETURNED),
    _action("claim", _("签收"), {S.DISPATCHED}, S.ACCEPTED, UNIT, EventType.CLAIMED),
    _action(
        "request_extension",
        _("申请延期"),
        {S.ACCEPTED},
        S.EXTENSION_REQUESTED,
        UNIT,
        EventType.EXTENSION_REQUESTED,
    ),
    _action(
        "approve_extension",
        _("批准延期"),
        {S.EXTENSION_REQUESTED},
        S.ACCEPTED,
        DISPATCH,
        EventType.EXTENSION_APPROVED,
    ),
    _action(
        "deny_extension",
        _("驳回延期"),
        {S.EXTENSION_REQUESTED},
        S.ACCEPTED,
        DISPATCH,
        EventType.EXTENSION_DENIED,
    ),
    _action(
        "request_suspension",
        _("申请缓办"),
        {S.ACCEPTED},
        S.SUSPENSION_REQUESTED,
        UNIT,
        EventType.SUSPENSION_REQUESTED,
    ),
    _action(
        "approve_suspension",
        _("批准缓办"),
        {S.SUSPENSION_REQUESTED},
        S.SUSPENDED,
        DISPATCH,
        EventType.SUSPENSION_APPROVED,
    ),
    _action(
        "deny_suspension",
        _("驳回缓办"),
        {S.SUSPENSION_REQUESTED},
        S.ACCEPTED,
        DISPATCH,
        EventType.SUSPENSION_DENIED,
    ),
    _action("resume", _("恢复处置"), {S.SUSPENDED}, S.ACCEPTED, DISPATCH, EventType.RESUMED),
    _action(
        "submit",
        _("处置反馈"),
        {S.ACCEPTED, S.REWORK},
        S.SUBMITTED,
        UNIT,
        EventType.SUBMITTED,
    ),
    _action("check_pass", _("核查通过"), {S.SUBMITTED}, None, CHECK, EventType.CHECK_PASSED),
    _action("check_fail", _("核查不通过"), {S.SUBMITTED}, S.REWORK, CHECK, EventType.CHECK_FAILED),
    _action(
        "close", _("结案"), {S.SUBMITTED}, S.CLOSED, frozenset({R.SHIFT_LEAD}), EventType.CLOSED
    ),
    # The reporter may reopen too (checked by the service, not by role).
    _action("reopen", _("重新打开"), {S.CLOSED}, S.REOPENED, INTAKE, EventType.REOPENED),
    # A change of category or location before the unit claims the case; it re-routes.
    _action(
        "reclassify",
        _("修改分类或位置"),
        {S.REPORTED, S.VERIFYING, S.FILED, S.DISPATCHED, S.RETURNED, S.REOPENED},
        None,
        CENTRE_DESK,
        EventType.RECLASSIFIED,
    ),
    # 会办: assisting units next to the lead unit.
    _action("add_assist", _("增加会办单位"), AT_UNIT, None, DISPATCH, EventType.ASSIST_ADDED),
    _action("end_assist", _("结束会办"), AT_UNIT, None, DISPATCH, EventType.ASSIST_ENDED),
    # The reporter rates (checked by the service); the centre records a 12345 回访 rating.
    _action("rate", _("评价"), {S.CLOSED}, None, INTAKE, EventType.RATED),
    # 催办 by any supervisor; 督办 and 挂牌督办 need seniority (checked by the service per kind).
    _action("supervise", _("督办"), OPEN, None, SUPERVISORS, EventType.SUPERVISED),
    _action("lift_supervision", _("解除督办"), OPEN, None, SENIOR, EventType.SUPERVISION_LIFTED),
]

ACTIONS: dict[str, Action] = {a.name: a for a in _ACTIONS}


def allowed_actions(state: State) -> list[Action]:
    return [a for a in _ACTIONS if state in a.sources]
