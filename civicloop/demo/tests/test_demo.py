"""The whole Yiwu demo loads through the real loaders, once."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command, get_commands, load_command_class

from civicloop.accounts.models import Membership, Role, User
from civicloop.cases.models import Case, Source
from civicloop.demo.loader import load_demo
from civicloop.demo.management.commands.demo import (
    SIMULATOR_SECONDS,
    listener_args,
    simulator_args,
    worker_args,
)
from civicloop.environment.models import Alert
from civicloop.ingest.demo import DEMO_DEVICES, DEMO_MN_PREFIX
from civicloop.ingest.management.commands.hj212 import Command as Hj212Command
from civicloop.ingest.management.commands.ingest import Command as IngestCommand
from civicloop.monitoring.models import MonitoringPoint, PointKind, PointStatus
from civicloop.regions.models import Level, Region


@pytest.mark.django_db
def test_demo_loads_every_app_and_is_idempotent() -> None:
    first = load_demo(cases=30, days=20)
    assert Region.objects.filter(level=Level.TOWN).count() == 14
    assert first.cases_created == 30
    assert first.environment.enterprises == 30
    # the environment demo's six alerts open cases of their own (source 在线监测)
    assert first.environment.alerts_created == Alert.objects.count() == 6
    assert Case.objects.filter(source=Source.SENSOR).count() == 6
    assert Case.objects.count() == 30 + 6
    assert [a.role for a in first.accounts] == list(Role)
    for role in Role:
        assert Membership.objects.filter(role=role).exists(), role
    # the five fixed live devices, plus the active demo wastewater outlets and micro stations
    live = MonitoringPoint.objects.filter(
        mn__startswith=DEMO_MN_PREFIX,
        kind__in=[PointKind.WASTEWATER_OUTLET, PointKind.AMBIENT_MICRO_STATION],
        status=PointStatus.ACTIVE,
    )
    assert first.monitoring_points == len(DEMO_DEVICES) + live.count()
    assert (
        MonitoringPoint.objects.filter(mn__startswith=DEMO_MN_PREFIX, status="offline").count() == 1
    )
    users = User.objects.count()

    second = load_demo(cases=30, days=20)
    assert (second.cases_created, second.environment.alerts_created) == (0, 0)
    assert (Case.objects.count(), User.objects.count()) == (36, users)


@pytest.mark.django_db
def test_demo_command_prints_the_accounts() -> None:
    out = io.StringIO()
    call_command("demo", "--no-serve", "--cases", "10", stdout=out)
    text = out.getvalue()
    assert "13900000001  王芳" in text
    assert "civicloop2026" in text
    assert "http://127.0.0.1:8000/api/v1/docs" in text


def test_the_demo_starts_its_listener_and_simulator_with_valid_arguments() -> None:
    hj212 = Hj212Command().create_parser("civicloop", "hj212")
    options = vars(hj212.parse_args(simulator_args(9212)[1:]))
    assert (options["action"], options["demo"], options["port"]) == ("simulate", True, 9212)
    # `hj212 simulate` refuses to start without a limit (it would print a CommandError and
    # leave the demo without live data).
    assert options["duration"] == SIMULATOR_SECONDS and options["count"] is None
    assert (options["minute_data"], options["rate"]) == (True, "1/60")
    ingest = IngestCommand().create_parser("civicloop", "ingest")
    parsed = vars(ingest.parse_args(listener_args(9212, mqtt=True)[1:]))
    assert (parsed["port"], parsed["mqtt_host"]) == (9212, "127.0.0.1")
    for args in worker_args():
        command = load_command_class(get_commands()[args[0]], args[0])
        worker = vars(command.create_parser("civicloop", args[0]).parse_args(args[1:]))
        assert worker["loop"] is True, args
