"""The case actions of the pages: for each action of the transition table, the form that
collects its input and the service call that performs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict
from django.utils.datastructures import MultiValueDict
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from civicloop.accounts.models import User
from civicloop.cases import services
from civicloop.cases.models import (
    Case,
    ClosureReason,
    RejectReason,
    ReturnReason,
    Satisfaction,
    SupervisionKind,
    Urgency,
)
from civicloop.cases.routing import route_for
from civicloop.cases.workflow import ACTIONS
from civicloop.web import forms as f
from civicloop.web.selectors import dispatch_targets

Data = dict[str, Any]
Runner = Callable[[Case, User, Data], Any]


@dataclass(frozen=True)
class WebAction:
    name: str
    form: type[f.ActionForm]
    run: Runner
    # "primary" for the step forward, "danger" for refusals; "plain" otherwise.
    style: str = "plain"
    # Actions outside the transition table (following) carry their own label.
    own_label: Promise | None = None

    @property
    def label(self) -> str:
        return str(self.own_label or ACTIONS[self.name].label)


def _note(d: Data) -> str:
    return str(d.get("note") or "")


def _photos(d: Data) -> list[services.PhotoUpload]:
    return f.photo_uploads(d.get("photos") or [])


def _simple(service: Callable[..., Any]) -> Runner:
    return lambda c, u, d: service(case=c, by=u, note=_note(d))


def _file(c: Case, u: User, d: Data) -> None:
    services.case_file(
        case=c, by=u, category=d.get("category"), urgency=Urgency(d["urgency"]), note=_note(d)
    )


def _confirm(c: Case, u: User, d: Data) -> None:
    services.case_confirm_on_site(
        case=c, by=u, exists=d["exists"], note=_note(d), photos=_photos(d)
    )


def _check(passed: bool) -> Runner:
    return lambda c, u, d: services.case_check(
        case=c, by=u, passed=passed, note=_note(d), photos=_photos(d)
    )


def _reclassify(c: Case, u: User, d: Data) -> None:
    services.case_reclassify(
        case=c,
        by=u,
        category=d.get("category"),
        urgency=Urgency(d["urgency"]),
        lat=d["lat"],
        lon=d["lon"],
        address=d.get("address") or "",
        note=_note(d),
    )


def _decide(service: Callable[..., Any], approve: bool) -> Runner:
    return lambda c, u, d: service(case=c, by=u, approve=approve, note=_note(d))


_ACTIONS = [
    WebAction(
        "submit_draft",
        f.NoFieldsForm,
        lambda c, u, d: services.case_submit_draft(case=c, by=u),
        "primary",
    ),
    WebAction("file", f.FileForm, _file, "primary"),
    WebAction("request_verification", f.NoteOnlyForm, _simple(services.case_request_verification)),
    WebAction("confirm_on_site", f.ConfirmOnSiteForm, _confirm, "primary"),
    WebAction(
        "reject",
        f.RejectForm,
        lambda c, u, d: services.case_reject(
            case=c, by=u, reason=RejectReason(d["reason"]), note=_note(d)
        ),
        "danger",
    ),
    WebAction(
        "merge",
        f.MergeForm,
        lambda c, u, d: services.case_merge(case=c, into=d["into"], by=u, note=_note(d)),
    ),
    WebAction("reinstate", f.NoteOnlyForm, _simple(services.case_reinstate)),
    WebAction(
        "dispatch",
        f.DispatchForm,
        lambda c, u, d: services.case_dispatch(case=c, to=d["to"], by=u, note=_note(d)),
        "primary",
    ),
    WebAction("claim", f.NoteOnlyForm, _simple(services.case_claim), "primary"),
    WebAction(
        "return",
        f.ReturnForm,
        lambda c, u, d: services.case_return(
            case=c, by=u, reason=ReturnReason(d["reason"]), note=_note(d)
        ),
        "danger",
    ),
    WebAction(
        "submit",
        f.SubmitForm,
        lambda c, u, d: services.case_submit(case=c, by=u, photos=_photos(d), note=_note(d)),
        "primary",
    ),
    WebAction(
        "request_extension",
        f.ExtensionForm,
        lambda c, u, d: services.case_request_extension(
            case=c, by=u, until=d["until"], note=_note(d)
        ),
    ),
    WebAction(
        "request_suspension",
        f.note_required_form(_("请填写申请缓办的理由")),
        _simple(services.case_request_suspension),
    ),
    WebAction(
        "approve_extension",
        f.NoteOnlyForm,
        _decide(services.case_decide_extension, True),
        "primary",
    ),
    WebAction(
        "deny_extension",
        f.note_required_form(_("请填写驳回延期的理由")),
        _decide(services.case_decide_extension, False),
        "danger",
    ),
    WebAction(
        "approve_suspension",
        f.NoteOnlyForm,
        _decide(services.case_decide_suspension, True),
        "primary",
    ),
    WebAction(
        "deny_suspension",
        f.note_required_form(_("请填写驳回缓办的理由")),
        _decide(services.case_decide_suspension, False),
        "danger",
    ),
    WebAction("resume", f.NoteOnlyForm, _simple(services.case_resume), "primary"),
    WebAction("check_pass", f.CheckForm, _check(True), "primary"),
    WebAction("check_fail", f.CheckFailForm, _check(False), "danger"),
    WebAction(
        "close",
        f.CloseForm,
        lambda c, u, d: services.case_close(
            case=c, by=u, reason=ClosureReason(d["reason"]), note=_note(d)
        ),
        "primary",
    ),
    WebAction(
        "reopen",
        f.note_required_form(_("请填写重新打开的原因")),
        _simple(services.case_reopen),
        "danger",
    ),
    WebAction(
        "rate",
        f.RateForm,
        lambda c, u, d: services.case_rate(
            case=c, by=u, satisfaction=Satisfaction(d["satisfaction"]), note=_note(d)
        ),
        "primary",
    ),
    WebAction(
        "recall",
        f.note_required_form(_("请填写撤回派遣的理由")),
        _simple(services.case_recall),
    ),
    WebAction(
        "supervise",
        f.SuperviseForm,
        lambda c, u, d: services.case_supervise(
            case=c, by=u, kind=SupervisionKind(d["kind"]), note=_note(d), due_at=d["due_at"]
        ),
    ),
    WebAction("lift_supervision", f.NoteOnlyForm, _simple(services.case_supervision_lift)),
    WebAction("reclassify", f.ReclassifyForm, _reclassify),
    WebAction(
        "add_assist",
        f.AssistAddForm,
        lambda c, u, d: services.case_assist_add(case=c, to=d["to"], by=u, note=_note(d)),
    ),
    WebAction(
        "end_assist",
        f.AssistEndForm,
        lambda c, u, d: services.case_assist_end(
            case=c, organisation=d["organisation"], by=u, note=_note(d)
        ),
    ),
    # Outside the transition table: staff on the case (assisting units too) add photos.
    WebAction(
        "add_evidence",
        f.EvidenceForm,
        lambda c, u, d: services.case_add_evidence(case=c, by=u, photos=_photos(d), note=_note(d)),
        "plain",
        _("补充照片"),
    ),
    WebAction(
        "follow",
        f.NoFieldsForm,
        lambda c, u, d: services.case_follow(case=c, by=u),
        "primary",
        _("我也遇到"),
    ),
    WebAction(
        "unfollow",
        f.NoFieldsForm,
        lambda c, u, d: services.case_unfollow(case=c, by=u),
        "plain",
        _("取消关注"),
    ),
]

WEB_ACTIONS: dict[str, WebAction] = {a.name: a for a in _ACTIONS}


def build_form(
    action: WebAction,
    case: Case,
    user: User,
    data: QueryDict | None = None,
    files: MultiValueDict[str, Any] | None = None,
) -> f.ActionForm:
    """The action's form, bound when data is given; prefixed so that many fit on one page."""
    kwargs: dict[str, Any] = {"case": case, "user": user, "prefix": action.name}
    if action.form is f.DispatchForm:
        kwargs["targets"] = dispatch_targets(case)
        kwargs["suggested"] = route_for(case)
    if action.form is f.AssistAddForm:
        kwargs["targets"] = dispatch_targets(case)
    return action.form(data, files, **kwargs)


# Actions the table allows in a state but that make sense only sometimes.
_WORTH_OFFERING: dict[str, Callable[[Case], bool]] = {
    "lift_supervision": lambda case: bool(case.supervision),
    # One rating per closure (the service refuses a second one).
    "rate": lambda case: not (case.rated_at and case.closed_at and case.rated_at >= case.closed_at),
    "end_assist": lambda case: case.assists.filter(ended_at__isnull=True).exists(),
}
# Actions outside the transition table that any staff viewer of the case may take.
STAFF_EXTRAS = ("add_evidence",)


def forms_for(case: Case, user: User, names: list[str]) -> list[tuple[WebAction, f.ActionForm]]:
    """Blank forms for the actions open to the user, in the table's order."""
    return [
        (action, build_form(action, case, user))
        for action in _ACTIONS
        if action.name in names and _worth_offering(action, case)
    ]


def _worth_offering(action: WebAction, case: Case) -> bool:
    check = _WORTH_OFFERING.get(action.name)
    return check is None or check(case)
