"""Drive a case through the real services into any state of the machine."""

from __future__ import annotations

from datetime import timedelta

from civicloop.cases import services
from civicloop.cases.models import Case, Category, RejectReason, ReturnReason, State
from civicloop.conftest import IN_GRID, People, World, jpeg
from civicloop.lib import clock


def photo(n: int = 0) -> services.PhotoUpload:
    return services.PhotoUpload(name=f"p{n}.jpg", data=jpeg((10 * n % 255, 80, 40)))


def reported(people: People, *, draft: bool = False, **kw: object) -> Case:
    category = Category.objects.get(kind="event", full_code="0102")
    return services.case_report(
        by=people.resident,
        category=category,
        description="孝子祠社区门口垃圾堆放，无人清理",
        lat=IN_GRID[0],
        lon=IN_GRID[1],
        photos=[photo(1)],
        draft=draft,
        **kw,  # type: ignore[arg-type]
    )


def case_in(state: State, people: People, world: World) -> Case:
    """A fresh case in `state`, reached along the usual path."""
    p = people
    if state == State.DRAFT:
        return reported(p, draft=True)
    case = reported(p)
    steps = _PATHS[state]
    for step in steps:
        step(case, p, world)
    case.refresh_from_db()
    assert case.state == state
    return case


def _verify(c: Case, p: People, w: World) -> None:
    services.case_request_verification(case=c, by=p.clerk)


def _reject(c: Case, p: People, w: World) -> None:
    services.case_reject(case=c, by=p.clerk, reason=RejectReason.INVALID, note="无法核实")


def _merge(c: Case, p: People, w: World) -> None:
    services.case_merge(case=c, into=reported(p), by=p.clerk)


def _file(c: Case, p: People, w: World) -> None:
    services.case_file(case=c, by=p.clerk)


def _dispatch(c: Case, p: People, w: World) -> None:
    services.case_dispatch(case=c, to=w.sanitation, by=p.dispatcher)


def _return(c: Case, p: People, w: World) -> None:
    services.case_return(case=c, by=p.handler, reason=ReturnReason.NOT_OUR_DUTY, note="非环卫职责")


def _claim(c: Case, p: People, w: World) -> None:
    services.case_claim(case=c, by=p.handler)


def _request_extension(c: Case, p: People, w: World) -> None:
    until = clock.now() + timedelta(days=3)
    services.case_request_extension(case=c, by=p.handler, until=until, note="需要调车")


def _request_suspension(c: Case, p: People, w: World) -> None:
    services.case_request_suspension(case=c, by=p.handler, note="等待产权单位确认")


def _approve_suspension(c: Case, p: People, w: World) -> None:
    services.case_decide_suspension(case=c, by=p.dispatcher, approve=True)


def _submit(c: Case, p: People, w: World) -> None:
    services.case_submit(case=c, by=p.handler, photos=[photo(2)], note="已清理完毕")


def _check_fail(c: Case, p: People, w: World) -> None:
    services.case_check(case=c, by=p.verifier, passed=False, note="仍有残留")


def _check_pass(c: Case, p: People, w: World) -> None:
    services.case_check(case=c, by=p.verifier, passed=True)


def _close(c: Case, p: People, w: World) -> None:
    services.case_close(case=c, by=p.shift_lead)


def _reopen(c: Case, p: People, w: World) -> None:
    services.case_reopen(case=c, by=p.resident, note="垃圾又堆回来了")


_TO_ACCEPTED = [_file, _dispatch, _claim]
_TO_SUBMITTED = [*_TO_ACCEPTED, _submit]
_TO_CLOSED = [*_TO_SUBMITTED, _check_pass, _close]

_PATHS = {
    State.REPORTED: [],
    State.VERIFYING: [_verify],
    State.REJECTED: [_reject],
    State.MERGED: [_merge],
    State.FILED: [_file],
    State.DISPATCHED: [_file, _dispatch],
    State.RETURNED: [_file, _dispatch, _return],
    State.ACCEPTED: _TO_ACCEPTED,
    State.EXTENSION_REQUESTED: [*_TO_ACCEPTED, _request_extension],
    State.SUSPENSION_REQUESTED: [*_TO_ACCEPTED, _request_suspension],
    State.SUSPENDED: [*_TO_ACCEPTED, _request_suspension, _approve_suspension],
    State.SUBMITTED: _TO_SUBMITTED,
    State.REWORK: [*_TO_SUBMITTED, _check_fail],
    State.CLOSED: _TO_CLOSED,
    State.REOPENED: [*_TO_CLOSED, _reopen],
}
