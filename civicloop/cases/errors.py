"""Stable machine-readable error codes of the case engine, with their Chinese messages."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext as _

from civicloop.lib.errors import Conflict, Forbidden, Invalid, NotFound


class Code(StrEnum):
    NOT_FOUND = "case_not_found"
    INVALID_TRANSITION = "invalid_transition"
    CONFLICT = "case_conflict"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    REASON_REQUIRED = "reason_required"
    NOTE_REQUIRED = "note_required"
    PHOTOS_REQUIRED = "photos_required"
    TOO_MANY_PHOTOS = "too_many_photos"
    VERIFICATION_REQUIRED = "verification_required"
    OUTSIDE_CITY = "outside_city"
    CATEGORY_INVALID = "category_invalid"
    TARGET_INVALID = "dispatch_target_invalid"
    MERGE_TARGET_INVALID = "merge_target_invalid"
    REOPEN_WINDOW_PASSED = "reopen_window_passed"
    DEADLINE_INVALID = "deadline_invalid"
    SOURCE_NOT_ALLOWED = "source_not_allowed"
    DESCRIPTION_REQUIRED = "description_required"
    PERIODS_INVALID = "working_periods_invalid"
    NO_SUPERVISION = "no_active_supervision"
    LIMITS_INVALID = "time_limits_invalid"
    NOTHING_CHANGED = "nothing_changed"
    OUTSIDE_JURISDICTION = "outside_jurisdiction"
    ASSIST_INVALID = "assist_invalid"
    ALREADY_FOLLOWING = "already_following"
    NOT_FOLLOWING = "not_following"
    FOLLOW_INVALID = "follow_invalid"
    ALREADY_RATED = "already_rated"
    RATE_WINDOW_PASSED = "rate_window_passed"


def not_found() -> NotFound:
    return NotFound(Code.NOT_FOUND, _("案件不存在或您无权查看"))


def invalid_transition(action: str, state: str) -> Conflict:
    return Conflict(
        Code.INVALID_TRANSITION,
        _("案件当前状态为“%(state)s”，不能执行“%(action)s”") % {"state": state, "action": action},
        action=action,
        state=state,
    )


def conflict() -> Conflict:
    return Conflict(Code.CONFLICT, _("案件已被他人处理，请刷新后重试"))


def role_not_allowed(action: str) -> Forbidden:
    return Forbidden(
        Code.ROLE_NOT_ALLOWED, _("您的角色无权执行“%(action)s”") % {"action": action}, action=action
    )


def invalid(code: Code, message: str) -> Invalid:
    return Invalid(code, message)
