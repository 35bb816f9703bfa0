"""Findings become alerts, alerts open cases in the loop, a closed case resolves its alert."""

from __future__ import annotations

from datetime import timedelta

import pytest

from civicloop.cases import services as case_services
from civicloop.cases.models import Case, Source, State, Urgency
from civicloop.cases.tests.journeys import photo
from civicloop.conftest import People
from civicloop.environment import alerts
from civicloop.environment.models import Alert, AlertKind, AlertStatus, EnforcementTeam
from civicloop.environment.sweep import sweep
from civicloop.environment.tests.conftest import (
    DAY,
    HOUR,
    NOW,
    Env,
    feed,
    feed_normal_hours,
    keep_alive,
    last_hours,
    must,
)
from civicloop.lib import clock
from civicloop.monitoring.models import ReadingKind
from civicloop.monitoring.rollups import day_start

pytestmark = pytest.mark.django_db


def days_back(n: int, now=NOW):
    return day_start(now) - n * DAY


def close_case(case: Case, env: Env, people: People) -> None:
    with clock.frozen(NOW + timedelta(hours=2)):
        case_services.case_claim(case=case, by=env.inspector)
        case_services.case_submit(case=case, by=env.inspector, photos=[photo(3)], note="已整改")
        case_services.case_check(case=case, by=people.verifier, passed=True)
        case_services.case_close(case=case, by=people.shift_lead)


def test_water_daily_exceedance_opens_one_case_dispatched_to_the_enforcement_team(
    env: Env, people: People
) -> None:
    feed_normal_hours(env)
    feed(env.water, "w01018", [150, 160, 230], start=days_back(3), kind=ReadingKind.DAY)

    summary = sweep(now=NOW, stations=False)

    assert summary.alerts_created == 1
    alert = Alert.objects.get()
    assert (alert.kind, alert.code, alert.pollutant_name) == (
        AlertKind.EXCEEDANCE,
        "w01018",
        "化学需氧量",
    )
    assert (alert.worst_value, alert.limit_text, alert.periods) == (230, "≤200", 1)
    assert alert.basis.startswith("许可限值（" + env.permit.number)
    assert alert.first_start == days_back(1)
    assert [row["v"] for row in alert.evidence["first"]["series"]] == [150, 160, 230]
    case = must(alert.case)
    assert case.source == Source.SENSOR
    assert (must(case.category.parent).name, case.category.name) == ("环境监管", "超标排放")
    assert case.state == State.DISPATCHED
    assert case.assigned_org == env.hb
    assert must(case.reporter).mobile == alerts.SYSTEM_MOBILE
    assert case.town == env.enterprise.town
    assert "化学需氧量" in case.description and "230" in case.description
    assert case.urgency == Urgency.NORMAL


def test_sweeping_again_changes_nothing(env: Env) -> None:
    feed_normal_hours(env)
    feed(env.water, "w01018", [230], start=days_back(1), kind=ReadingKind.DAY)
    sweep(now=NOW, stations=False)
    before = Alert.objects.get()

    again = sweep(now=NOW + timedelta(minutes=5), stations=False)

    assert (again.alerts_created, again.alerts_updated) == (0, 0)
    after = Alert.objects.get()
    assert after.updated_at == before.updated_at
    assert Case.objects.count() == 1


def test_a_later_finding_updates_the_open_alert_and_escalates(env: Env) -> None:
    feed_normal_hours(env, NOW - DAY)
    feed_normal_hours(env)
    feed(env.water, "w01018", [230], start=days_back(2), kind=ReadingKind.DAY)
    with clock.frozen(NOW - DAY):
        sweep(now=NOW - DAY, stations=False)
    feed(env.water, "w01018", [240], start=days_back(1), kind=ReadingKind.DAY)

    summary = sweep(now=NOW, stations=False)

    assert (summary.alerts_created, summary.alerts_updated) == (0, 1)
    alert = Alert.objects.get()
    assert (alert.periods, alert.max_consecutive, alert.worst_value) == (2, 2, 240)
    assert alert.is_persistent  # exceedances on two days within seven
    assert Case.objects.count() == 1


def test_alert_resolves_when_its_case_closes_and_old_data_does_not_reopen_it(
    env: Env, people: People
) -> None:
    feed_normal_hours(env)
    feed(env.water, "w01018", [230], start=days_back(1), kind=ReadingKind.DAY)
    sweep(now=NOW, stations=False)
    alert = Alert.objects.get()
    assert alert.case is not None

    keep_alive(env, NOW + HOUR)
    sweep(now=NOW + HOUR, stations=False)
    assert Alert.objects.get().status == AlertStatus.OPEN  # the case is still open

    close_case(alert.case, env, people)
    keep_alive(env, NOW + 4 * HOUR)
    summary = sweep(now=NOW + 3 * HOUR, stations=False)

    alert.refresh_from_db()
    assert summary.alerts_resolved == 1
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolution == f"案件{alert.case.number}已结案"
    assert alert.resolved_at == NOW + 2 * HOUR
    # The same (old) daily value is seen again: history, no second alert or case.
    again = sweep(now=NOW + 4 * HOUR, stations=False)
    assert again.alerts_created == 0
    assert Case.objects.count() == 1


def test_a_new_exceedance_after_resolution_opens_a_new_alert(env: Env, people: People) -> None:
    feed_normal_hours(env)
    feed(env.water, "w01018", [230], start=days_back(1), kind=ReadingKind.DAY)
    sweep(now=NOW, stations=False)
    close_case(must(Alert.objects.get().case), env, people)
    keep_alive(env, NOW + 3 * HOUR)
    sweep(now=NOW + 3 * HOUR, stations=False)

    later = NOW + DAY
    keep_alive(env, later)
    feed(env.water, "w01018", [250], start=days_back(1, later), kind=ReadingKind.DAY)
    summary = sweep(now=later, stations=False)

    assert summary.alerts_created == 1
    assert Alert.objects.filter(status=AlertStatus.OPEN).count() == 1
    assert Case.objects.count() == 2


def test_air_outlet_judged_on_o2_corrected_hourly_means_against_the_standard(env: Env) -> None:
    feed_normal_hours(env)
    start = last_hours(3)
    # NOx 150 mg/m³ at 9 % O2 → 218.75 at 3.5 %: above GB 13271 表2 gas 200, three hours.
    feed(env.air, "a21002", [150, 150, 150], start=start)
    feed(env.air, "a19001", [9.0, 9.0, 9.0], start=start)
    # Store over the earlier "normal" rows: the writer keeps the first value, so replace.
    from civicloop.monitoring.models import Reading

    Reading.objects.filter(point=env.air_point, code="a21002", data_time__gte=start).update(avg=150)
    Reading.objects.filter(point=env.air_point, code="a19001", data_time__gte=start).update(avg=9.0)

    sweep(now=NOW, stations=False)

    alert = Alert.objects.get(outlet=env.air, kind=AlertKind.EXCEEDANCE)
    assert alert.worst_value == pytest.approx(218.75)
    assert (alert.limit_text, alert.max_consecutive) == ("≤200", 3)
    assert alert.basis == "GB 13271—2014 表2 燃气锅炉"
    assert alert.is_persistent
    assert alert.case is not None and must(alert.case).urgency == Urgency.URGENT


def test_device_corrected_values_are_used_when_sent(env: Env) -> None:
    feed_normal_hours(env)
    from civicloop.monitoring.models import Reading

    start = last_hours(1)
    Reading.objects.filter(point=env.air_point, code="a21002", data_time=start).update(
        avg=120, zs_avg=260
    )
    sweep(now=NOW, stations=False)
    assert Alert.objects.get(outlet=env.air, kind=AlertKind.EXCEEDANCE).worst_value == 260


def test_invalid_flags_are_not_judged(env: Env) -> None:
    feed_normal_hours(env)
    feed(env.water, "w01018", [230], start=days_back(1), kind=ReadingKind.DAY, flag="D")
    sweep(now=NOW, stations=False)
    assert not Alert.objects.filter(kind=AlertKind.EXCEEDANCE).exists()


def test_ph_outside_six_to_nine_is_an_exceedance_on_each_value(env: Env) -> None:
    feed_normal_hours(env)
    from civicloop.monitoring.models import Reading

    Reading.objects.filter(point=env.water_point, code="w01001", data_time=last_hours(2)).update(
        avg=10.2
    )
    sweep(now=NOW, stations=False)
    alert = Alert.objects.get(kind=AlertKind.EXCEEDANCE, code="w01001")
    assert (alert.worst_value, alert.limit_text) == (10.2, "6～9")


def test_constant_values_open_a_data_anomaly_case(env: Env) -> None:
    feed_normal_hours(env)
    from civicloop.monitoring.models import Reading

    Reading.objects.filter(
        point=env.water_point, code="w01018", data_time__gte=last_hours(14)
    ).update(avg=88.0)
    sweep(now=NOW, stations=False)
    alert = Alert.objects.get(kind=AlertKind.CONSTANT)
    assert (alert.code, alert.periods) == ("w01018", 14)
    assert must(alert.case).category.name == "数据异常"


def test_offline_device_opens_a_device_offline_case(env: Env) -> None:
    feed_normal_hours(env)
    from civicloop.monitoring.models import Reading

    point = env.air_point
    point.last_seen_at = NOW - timedelta(hours=4)
    point.save(update_fields=["last_seen_at"])
    Reading.objects.filter(point=point, data_time__gte=last_hours(4)).delete()
    sweep(now=NOW, stations=False)
    # Its missing hours are explained by the silence: one alert, one case.
    assert Alert.objects.filter(outlet=env.air).count() == 1
    alert = Alert.objects.get(kind=AlertKind.OFFLINE)
    assert alert.outlet == env.air and alert.code == ""
    assert must(alert.case).category.name == "设备离线"
    assert must(alert.case).urgency == Urgency.URGENT


def test_missing_hours_are_one_alert_per_outlet(env: Env) -> None:
    feed_normal_hours(env)
    from civicloop.monitoring.models import Reading

    Reading.objects.filter(
        point=env.water_point, data_time__gte=last_hours(4), data_time__lt=last_hours(2)
    ).delete()
    sweep(now=NOW, stations=False)
    alert = Alert.objects.get(kind=AlertKind.MISSING)
    assert (alert.outlet, alert.periods, alert.first_start) == (env.water, 2, last_hours(4))


def test_a_configured_team_of_the_region_takes_the_case(env: Env, people: People, world) -> None:
    from civicloop.accounts.models import Organisation, OrgKind

    squad = Organisation.objects.create(
        code="ccjd-hbzd", name="稠城环境执法中队", kind=OrgKind.DEPARTMENT, region=world.town
    )
    EnforcementTeam.objects.create(region=world.town, organisation=squad)
    feed_normal_hours(env)
    feed(env.water, "w01018", [230], start=days_back(1), kind=ReadingKind.DAY)
    sweep(now=NOW, stations=False)
    assert must(Alert.objects.get().case).assigned_org == squad


def test_without_categories_the_alert_waits_and_is_retried(env: Env) -> None:
    from civicloop.cases.models import Category

    Category.objects.filter(parent__name="环境监管").update(is_active=False)
    feed_normal_hours(env)
    feed(env.water, "w01018", [230], start=days_back(1), kind=ReadingKind.DAY)
    sweep(now=NOW, stations=False)
    alert = Alert.objects.get()
    assert alert.case is None and "未配置" in alert.case_error

    Category.objects.filter(parent__name="环境监管").update(is_active=True)
    summary = sweep(now=NOW + timedelta(minutes=5), stations=False)
    alert.refresh_from_db()
    assert summary.cases_retried == 1
    assert alert.case is not None and alert.case_error == ""


def test_system_account_and_its_memberships_are_created_once(env: Env) -> None:
    town = env.enterprise.town
    first = alerts.system_user_for(town)
    second = alerts.system_user_for(town)
    assert first.pk == second.pk
    assert not first.has_usable_password()
    roles = sorted(first.memberships.values_list("role", flat=True))
    assert roles == ["dispatcher", "intake_clerk"]


def test_a_jump_into_an_exceedance_is_one_alert_not_two(env: Env) -> None:
    feed_normal_hours(env)
    from civicloop.monitoring.models import Reading

    Reading.objects.filter(point=env.air_point, code="a21002", data_time=last_hours(2)).update(
        avg=400
    )
    sweep(now=NOW, stations=False)
    assert [(a.kind, a.worst_value) for a in Alert.objects.filter(outlet=env.air)] == [
        (AlertKind.EXCEEDANCE, 400)
    ]


def test_a_jump_alone_is_a_data_anomaly(env: Env) -> None:
    feed_normal_hours(env)
    from civicloop.monitoring.models import Reading

    # COD (judged on daily means) leaps from about 83 to 190 within the permitted 200.
    Reading.objects.filter(point=env.water_point, code="w01018", data_time=last_hours(2)).update(
        avg=190
    )
    sweep(now=NOW, stations=False)
    jump = Alert.objects.get(kind=AlertKind.JUMP)
    assert (jump.code, jump.worst_value) == ("w01018", 190)
    assert must(jump.case).category.name == "数据异常"


def test_env_sweep_command_prints_a_summary(env: Env) -> None:
    from io import StringIO

    from django.core.management import call_command

    feed_normal_hours(env)
    out = StringIO()
    with clock.frozen(NOW):
        call_command("env_sweep", "--no-stations", stdout=out)
    assert out.getvalue().startswith("outlets=2 skipped=0")
