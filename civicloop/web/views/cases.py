"""The case page: facts, deadline, before/after photos, map, timeline and the actions open to
the viewer. Actions post here and, under htmx, the panel is swapped in place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from civicloop.accounts.models import Role, User
from civicloop.cases import errors as case_errors
from civicloop.cases.models import Case, CaseEvent, EventType
from civicloop.cases.selectors import (
    can_see_reporter,
    cycles_for,
    is_staff_viewer,
    supervisions_for,
    timeline_for,
)
from civicloop.cases.services import case_add_note
from civicloop.lib.errors import DomainError
from civicloop.web import display, selectors
from civicloop.web.access import ActionAccess, action_access, case_actions
from civicloop.web.actions import WEB_ACTIONS, WebAction, build_form, forms_for
from civicloop.web.forms import ActionForm, CaseNoteForm, add_domain_error
from civicloop.web.views.common import case_or_404, is_htmx, map_config, safe_next, user_of

PANEL = "web/case_detail.html#panel"
CASE_CHANGED = "case-changed"


@dataclass(frozen=True)
class EventRow:
    event: CaseEvent
    actor: str
    role: str
    reason: str
    photos: list[selectors.PhotoView]
    until: datetime | None
    target: str


def _rows(
    user: User, case: Case, events: list[CaseEvent], photos: dict[int, list[Any]]
) -> list[EventRow]:
    staff = is_staff_viewer(user, case)
    show_reporter = can_see_reporter(user, case)
    targets = selectors.organisation_names(
        [e.data.get("to", "") for e in events if e.type == EventType.DISPATCHED]
    )
    return [
        EventRow(
            event=e,
            # Names are for staff only, and the reporter's own follows the anonymity rule.
            actor=e.actor.name
            if e.actor and staff and (show_reporter or e.actor_id != case.reporter_id)
            else "",
            role=str(Role(e.actor_role).label) if e.actor_role else "",
            reason=display.reason_label(e.reason) if e.reason else "",
            photos=photos[e.pk],
            until=_until(e),
            target=targets.get(e.data.get("to", ""), ""),
        )
        for e in events
    ]


def _until(event: CaseEvent) -> datetime | None:
    value = event.data.get("until") if event.type == EventType.EXTENSION_REQUESTED else None
    return datetime.fromisoformat(value) if value else None


def case_context(
    request: HttpRequest,
    case: Case,
    failed: tuple[str, ActionForm] | None = None,
    note_form: CaseNoteForm | None = None,
) -> dict[str, Any]:
    user = user_of(request)
    events = timeline_for(user, case)
    photos = selectors.photos_of(case, events)
    before, after = selectors.before_after(events, photos)
    action_forms = forms_for(case, user, case_actions(user, case))
    if failed is not None:
        action_forms = _with_failed(action_forms, failed)
    staff = is_staff_viewer(user, case)
    return {
        "case": case,
        "supervisions": supervisions_for(user, case),
        "cycles": cycles_for(user, case),
        "tone": display.tone(case.state),
        "deadline": display.deadline(case),
        "rows": _rows(user, case, events, photos),
        "before": before,
        "after": after,
        "action_forms": action_forms,
        "failed": failed[0] if failed else "",
        "show_reporter": can_see_reporter(user, case),
        "is_staff": staff,
        "note_form": note_form
        or (CaseNoteForm() if staff or case.reporter_id == user.pk else None),
        "note_open": note_form is not None,
        "is_reporter": case.reporter_id == user.pk,
        "map_points": selectors.map_points_of([case]),
        "map": map_config(request),
        "next": request.GET.get("next", ""),
    }


def _with_failed(
    action_forms: list[tuple[WebAction, ActionForm]], failed: tuple[str, ActionForm]
) -> list[tuple[WebAction, ActionForm]]:
    """The forms with the one the user sent in place of its blank one, with its errors (even
    if the action is no longer offered, so that the user reads why)."""
    name, form = failed
    if name not in {a.name for a, _form in action_forms}:
        return [*action_forms, (WEB_ACTIONS[name], form)]
    return [(a, form if a.name == name else blank) for a, blank in action_forms]


def _render_case(
    request: HttpRequest,
    case: Case,
    status: int = 200,
    failed: tuple[str, ActionForm] | None = None,
    note_form: CaseNoteForm | None = None,
) -> HttpResponse:
    template = PANEL if is_htmx(request) else "web/case_detail.html"
    context = case_context(request, case, failed, note_form)
    return render(request, template, context, status=status)


@login_required
@require_GET
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    return _render_case(request, case_or_404(request, number))


@login_required
@require_GET
def case_panel(request: HttpRequest, number: str) -> HttpResponse:
    case = case_or_404(request, number)
    return render(request, PANEL, case_context(request, case))


@login_required
@require_POST
def case_act(request: HttpRequest, number: str, name: str) -> HttpResponse:
    user = user_of(request)
    case = case_or_404(request, number)
    action = WEB_ACTIONS.get(name)
    access = action_access(user, case, name)
    if action is None or access == ActionAccess.HIDDEN:
        raise Http404
    if access == ActionAccess.STALE:
        error = case_errors.invalid_transition(action.label, case.get_state_display())
        messages.error(request, error.message)
        return _render_case(request, case, status=409)
    form = build_form(action, case, user, request.POST, request.FILES)
    if not form.is_valid():
        return _render_case(request, case, status=422, failed=(name, form))
    return _perform(request, case, action, form)


def _perform(request: HttpRequest, case: Case, action: WebAction, form: ActionForm) -> HttpResponse:
    if form.cleaned_data["version"] != case.version:
        messages.error(request, case_errors.conflict().message)
        return _render_case(request, case, status=409)
    try:
        action.run(case, user_of(request), form.cleaned_data)
    except DomainError as e:
        add_domain_error(form, e)
        status = 409 if e.status == 409 else 422
        return _render_case(request, case_or_404(request, case.number), status, (action.name, form))
    messages.success(request, _("已%(action)s") % {"action": action.label})
    return _after_change(request, case)


def _after_change(request: HttpRequest, case: Case) -> HttpResponse:
    if not visible(request, case):
        # E.g. after 取消关注: the case is no longer the user's to see.
        url = reverse("web:mine")
        return HttpResponseClientRedirect(url) if is_htmx(request) else redirect(url)
    if not is_htmx(request):
        return redirect(safe_next(request, case_url(case)))
    fresh = case_or_404(request, case.number)
    response = render(request, PANEL, case_context(request, fresh))
    return trigger_client_event(response, CASE_CHANGED, {"number": case.number})


def visible(request: HttpRequest, case: Case) -> bool:
    try:
        case_or_404(request, case.number)
    except Http404:
        return False
    return True


def case_url(case: Case) -> str:
    return reverse("web:case", args=[case.number])


@login_required
@require_POST
def case_note(request: HttpRequest, number: str) -> HttpResponse:
    user = user_of(request)
    case = case_or_404(request, number)
    form = CaseNoteForm(request.POST)
    if not form.is_valid():
        return _render_case(request, case, status=422, note_form=form)
    staff = is_staff_viewer(user, case)
    is_public = form.cleaned_data["is_public"] or not staff
    try:
        case_add_note(case=case, by=user, text=form.cleaned_data["text"], is_public=is_public)
    except DomainError as e:
        form.add_error("text", e.message)
        return _render_case(request, case, status=e.status, note_form=form)
    messages.success(request, _("已添加"))
    return _after_change(request, case)


@login_required
@require_GET
def photo(request: HttpRequest, number: str, photo_id: int) -> FileResponse:
    """A photo's public copy (no metadata), to those who may see the event it belongs to."""
    user = user_of(request)
    case = case_or_404(request, number)
    found = selectors.visible_photo(user, case, photo_id, is_staff_viewer(user, case))
    if found is None:
        raise Http404
    response = FileResponse(selectors.open_public_copy(found), content_type=_content_type(found))
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _content_type(photo: Any) -> str:
    extension = photo.public.name.rsplit(".", 1)[-1].lower()
    return {"png": "image/png", "webp": "image/webp"}.get(extension, "image/jpeg")
