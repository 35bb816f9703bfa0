"""Environment benchmark on PostgreSQL: `python -m bench environment [--points 2000]`.

Builds (once; later runs reuse it) a dedicated database `civicloop_envbench` with 1,000
fictional enterprises in Yiwu, each with a water outlet (COD, NH3-N) and a boiler stack (NOx,
SO2), i.e. 2,000 monitoring points with one year of hourly values (two factors per point,
about 35 million rows in monthly partitions) and the daily values of the water outlets. Then:

* **report** — the enterprise month report (every outlet, daily values, exceedances, alerts,
  nearest micro stations) for a past month and for the current month, warm: median and p95 of
  repeated runs (target < 50 ms).
* **sweep** — the exceedance and abnormal-data sweep over all 2,000 points after one more hour
  of data arrived: first pass (opening the cases of the planted exceedances through the case
  services) and a steady-state pass, as wall time and time per point.

`run()` returns the figures as a dict. DATABASE_URL may point at another database whose name
contains "envbench"; the default database is never touched.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import datetime, timedelta
from typing import Any

BENCH_DB = "civicloop_envbench"
DEFAULT_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
YEAR_HOURS = 365 * 24
WATER_CODES = ("w01018", "w21003")
AIR_CODES = ("a21002", "a21026")
REPEAT = 30


def _configure() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if "envbench" not in url:
        os.environ["DATABASE_URL"] = DEFAULT_URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    _create_database(os.environ["DATABASE_URL"])
    import django

    django.setup()


def _create_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[-1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


# ---------------------------------------------------------------- the world


def _prepare_schema() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("create_reading_partitions", "--past", "13", "--months", "2", verbosity=0)


def _prepare_world() -> None:
    from civicloop.accounts.demo import load_demo_organisations
    from civicloop.accounts.models import Organisation
    from civicloop.cases.categories import categories_load_seed
    from civicloop.regions.demo import load_yiwu_regions
    from civicloop.regions.models import Level, Region

    if not Region.objects.filter(level=Level.GRID).exists():
        load_yiwu_regions()
    categories_load_seed()
    if not Organisation.objects.filter(code="yw-hb").exists():
        load_demo_organisations()


def _uscc(index: int) -> str:
    from civicloop.environment.codes import uscc_check_char

    base = f"91330782MA2B{index:05d}"
    return base + uscc_check_char(base)


def _enterprise(index: int) -> None:
    from datetime import date

    from civicloop.environment import services
    from civicloop.environment.demo import TOWN_SEATS
    from civicloop.environment.models import (
        DischargeMode,
        DischargePattern,
        ManagementCategory,
        OutletClass,
    )
    from civicloop.monitoring.models import MonitoringPoint, PointKind

    towns = sorted(TOWN_SEATS)
    lat0, lon0 = TOWN_SEATS[towns[index % len(towns)]]
    lat = lat0 + 0.004 * ((index * 37) % 7 - 3) / 3
    lon = lon0 + 0.004 * ((index * 53) % 7 - 3) / 3
    enterprise = services.enterprise_create(
        data=services.EnterpriseData(
            uscc=_uscc(index),
            name=f"义乌市基准测试{index:04d}号企业有限公司",
            legal_representative="测试",
            industry_code="1713",
            industry_name="棉印染精加工",
            address=f"义乌市{towns[index % len(towns)]}基准路{index}号",
            latitude=lat,
            longitude=lon,
            management_category=ManagementCategory.KEY,
        )
    )
    points = []
    for medium, kind in (("WW", PointKind.WASTEWATER_OUTLET), ("GA", PointKind.FLUE_GAS_OUTLET)):
        points.append(
            MonitoringPoint.objects.create(
                mn=f"BENCH{medium}{index:017d}",
                password="123456",
                name=f"基准{index}{medium}",
                system_code="32" if medium == "WW" else "31",
                kind=kind,
                latitude=lat,
                longitude=lon,
            )
        )
    water = services.outlet_create(
        enterprise=enterprise,
        data=services.OutletData(
            code="DW001",
            name="废水总排口",
            outlet_class=OutletClass.MAIN,
            discharge_pattern=DischargePattern.CONTINUOUS_STABLE,
            discharge_mode=DischargeMode.INDIRECT,
            latitude=lat,
            longitude=lon,
            destination="进入城镇污水处理厂",
        ),
        point=points[0],
    )
    air = services.outlet_create(
        enterprise=enterprise,
        data=services.OutletData(
            code="DA001",
            name="锅炉废气排放口",
            outlet_class=OutletClass.MAIN,
            discharge_pattern=DischargePattern.CONTINUOUS_STABLE,
            latitude=lat,
            longitude=lon,
            destination="大气",
            stack_height_m=15,
            built_on=date(2018, 1, 1),
        ),
        point=points[1],
    )
    permit = services.permit_issue(
        enterprise=enterprise,
        number=enterprise.uscc + "001P",
        issued_on=date(2024, 1, 1),
        valid_from=date(2024, 1, 1),
        valid_to=date(2028, 12, 31),
        authority="金华市生态环境局",
    )
    limit = services.LimitData
    services.permit_limit_set(
        permit=permit, outlet=water, data=limit("w01018", "mg/L", daily_limit=200)
    )
    services.permit_limit_set(
        permit=permit, outlet=water, data=limit("w21003", "mg/L", daily_limit=20)
    )
    for code in AIR_CODES:
        services.permit_limit_set(
            permit=permit,
            outlet=air,
            data=limit(code, "mg/m³", standard_number="GB 13271", standard_grade="燃气锅炉"),
        )


def _prepare_enterprises(count: int) -> None:
    from django.db import transaction

    from civicloop.environment.models import Enterprise

    have = Enterprise.objects.filter(uscc__startswith="91330782MA2B").count()
    for index in range(have, count):
        with transaction.atomic():
            _enterprise(index)


# ---------------------------------------------------------------- one year of hourly data


# Deterministic values: a daily cycle per point plus cheap pseudo-noise, generated server-side.
_VALUE = {
    "w01018": "120 + 40 * sin(2 * pi() * extract(hour from t) / 24 + p.id) + {noise} * 30",
    "w21003": "8 + 3 * sin(2 * pi() * extract(hour from t) / 24 + p.id) + {noise} * 2",
    "a21002": "100 + 30 * sin(2 * pi() * extract(hour from t) / 24 + p.id) + {noise} * 20",
    "a21026": "20 + 8 * sin(2 * pi() * extract(hour from t) / 24 + p.id) + {noise} * 5",
}
_NOISE = "(mod(p.id * 7919 + (extract(epoch from t)::bigint / 3600) * 104729, 1000) / 1000.0 - 0.5)"


def _hourly_sql(code: str, kind: str) -> str:
    value = _VALUE[code].format(noise=_NOISE)
    return f"""
        INSERT INTO monitoring_reading
            (point_id, kind, code, data_time, avg, flag, eflag, source, received_at)
        SELECT p.id, 2061, '{code}', t, round(({value})::numeric, 3)::float8, 'N', '', 1,
               t + interval '65 minutes'
        FROM monitoring_monitoringpoint p
        CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz, interval '1 hour') t
        WHERE p.mn LIKE 'BENCH{kind}%%'
        ON CONFLICT DO NOTHING
    """


_DAILY_SQL = """
    INSERT INTO monitoring_reading
        (point_id, kind, code, data_time, avg, min, max, flag, eflag, source, received_at)
    SELECT point_id, 2031, code,
           date_trunc('day', data_time AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai',
           avg(avg), min(avg), max(avg), 'N', '', 2, max(received_at)
    FROM monitoring_reading
    WHERE kind = 2061 AND data_time >= %s AND data_time < %s
      AND point_id IN (SELECT id FROM monitoring_monitoringpoint WHERE mn LIKE 'BENCHWW%%')
    GROUP BY point_id, code,
             date_trunc('day', data_time AT TIME ZONE 'Asia/Shanghai')
    HAVING count(*) >= 20
    ON CONFLICT DO NOTHING
"""


def _prepare_readings(end: datetime) -> int:
    """One year of hourly values up to `end` (exclusive), month by month; idempotent."""
    from django.db import connection, transaction

    start = end - timedelta(hours=YEAR_HOURS)
    written = 0
    month_start = start
    while month_start < end:
        month_end = min(month_start + timedelta(days=31), end)
        with transaction.atomic(), connection.cursor() as cursor:
            for code in WATER_CODES:
                cursor.execute(
                    _hourly_sql(code, "WW"), [month_start, month_end - timedelta(hours=1)]
                )
                written += cursor.rowcount
            for code in AIR_CODES:
                cursor.execute(
                    _hourly_sql(code, "GA"), [month_start, month_end - timedelta(hours=1)]
                )
                written += cursor.rowcount
        month_start = month_end
    return written


def _prepare_days(end: datetime) -> int:
    from django.db import connection

    from civicloop.monitoring.rollups import day_start

    with connection.cursor() as cursor:
        cursor.execute(_DAILY_SQL, [end - timedelta(hours=YEAR_HOURS), day_start(end)])
        written = cursor.rowcount
        cursor.execute("ANALYZE monitoring_reading")
    return written


def _plant_exceedances(end: datetime) -> None:
    """Every 100th boiler: the last three hours of NOx at 260 mg/m³ (GB 13271 gas: 200)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE monitoring_reading r SET avg = 260
            FROM monitoring_monitoringpoint p
            WHERE r.point_id = p.id AND p.mn LIKE 'BENCHGA%%' AND p.id %% 100 = 0
              AND r.kind = 2061 AND r.code = 'a21002' AND r.data_time >= %s AND r.data_time < %s
            """,
            [end - timedelta(hours=3), end],
        )


# ---------------------------------------------------------------- measurements


def _timed(work: Any, repeat: int) -> dict[str, float]:
    """Wall time (what a user waits) and this process's CPU time, per run, in ms."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
    walls.sort()
    return {
        "median_ms": round(statistics.median(walls), 2),
        "min_ms": round(walls[0], 2),
        "p95_ms": round(walls[int(len(walls) * 0.95) - 1], 2),
        "python_cpu_median_ms": round(statistics.median(cpus), 2),
    }


def _bench_report(end: datetime) -> dict[str, Any]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from civicloop.environment.models import Enterprise
    from civicloop.environment.reports import month_report
    from civicloop.lib.clock import SHANGHAI

    enterprise = Enterprise.objects.get(uscc=_uscc(7))
    local_end = end.astimezone(SHANGHAI)
    current = local_end.date().replace(day=1)
    past = (current - timedelta(days=1)).replace(day=1)
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        report = month_report(enterprise, past)
    rows = sum(len(p.days) for o in report.outlets for p in o.pollutants)
    return {
        "enterprise_points": 2,
        "queries": len(queries.captured_queries),
        "day_rows": rows,
        "past_month": {
            "month": f"{past:%Y-%m}",
            **_timed(lambda: month_report(enterprise, past), REPEAT),
        },
        "current_month": {
            "month": f"{current:%Y-%m}",
            **_timed(lambda: month_report(enterprise, current), REPEAT),
        },
    }


def _bench_sweep(end: datetime, points: int) -> dict[str, Any]:
    from civicloop.environment.models import Alert
    from civicloop.environment.sweep import sweep_outlets
    from civicloop.lib import clock
    from civicloop.monitoring.models import MonitoringPoint

    at = end + timedelta(minutes=70)  # the hour ending at `end` arrived; data is 1 h 10 min old
    # Each run measures the opening of the planted exceedances' cases afresh.
    Alert.objects.filter(outlet__enterprise__uscc__startswith="91330782MA2B").delete()
    MonitoringPoint.objects.filter(mn__startswith="BENCH").update(
        last_seen_at=at - timedelta(minutes=5), last_data_time=end - timedelta(hours=1)
    )
    with clock.frozen(at):
        started = time.perf_counter()
        first = sweep_outlets(now=at)
        first_s = time.perf_counter() - started
        started, cpu = time.perf_counter(), time.process_time()
        steady = sweep_outlets(now=at)
        steady_s, steady_cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "points": first.outlets,
        "first_pass_s": round(first_s, 2),
        "first_pass_alerts_created": first.alerts_created,
        "steady_pass_s": round(steady_s, 2),
        "steady_ms_per_point": round(steady_s * 1000 / max(steady.outlets, 1), 2),
        "steady_python_cpu_s": round(steady_cpu, 2),
        "steady_alerts_created": steady.alerts_created,
    }


def run(*, points: int = 2000) -> dict[str, Any]:
    _configure()
    from civicloop.lib import clock
    from civicloop.monitoring.models import Reading
    from civicloop.monitoring.rollups import hour_start

    started = time.perf_counter()
    _prepare_schema()
    _prepare_world()
    _prepare_enterprises(points // 2)
    last_point = f"BENCHGA{points // 2 - 1:017d}"
    loaded_until = (
        Reading.objects.filter(point__mn=last_point, kind=2061)
        .order_by("-data_time")
        .values_list("data_time", flat=True)
        .first()
    )
    if loaded_until is None:
        end = hour_start(clock.now())
        loaded = _prepare_readings(end) + _prepare_days(end)
    else:
        end, loaded = loaded_until + timedelta(hours=1), 0
    _plant_exceedances(end)
    prepared_s = time.perf_counter() - started
    return {
        "database": os.environ["DATABASE_URL"].rsplit("/", 1)[-1],
        "points": points,
        "readings_written_now": loaded,
        "prepare_s": round(prepared_s, 1),
        "report": _bench_report(end),
        "sweep": _bench_sweep(end, points),
    }


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--points", type=int, default=2000)
    args = parser.parse_args(argv)
    print(json.dumps(run(points=args.points), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
