"""The environment demo: Yiwu enterprises, stations, three weeks of data, the planted stories
as alerts and cases — and loading it twice changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from civicloop.accounts.demo import load_demo_organisations, load_demo_people
from civicloop.cases.categories import categories_load_seed
from civicloop.cases.models import State
from civicloop.environment.demo import SPECS, STATIONS, demo_uscc, load_demo_environment
from civicloop.environment.models import Alert, AlertStatus, Enterprise, StationAqi
from civicloop.environment.tests.conftest import must
from civicloop.lib.clock import SHANGHAI
from civicloop.regions.demo import load_yiwu_regions

pytestmark = pytest.mark.django_db
END = datetime(2026, 11, 26, 20, 0, tzinfo=SHANGHAI)


def test_demo_tells_its_stories_once(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_yiwu_regions()
    categories_load_seed()
    load_demo_organisations()
    load_demo_people()

    summary = load_demo_environment(end=END)

    assert summary.enterprises == len(SPECS) == 30
    assert {e.town.name for e in Enterprise.objects.select_related("town")} >= {
        "苏溪镇",
        "义亭镇",
        "佛堂镇",
        "稠江街道",
        "大陈镇",
        "廿三里街道",
    }
    assert StationAqi.objects.filter(period="hour").values("point").distinct().count() == len(
        STATIONS
    )
    kinds = Counter((a.kind, a.status) for a in Alert.objects.all())
    assert kinds == {
        ("exceedance", "open"): 3,  # COD two days, NH3-N at the sewage plant, boiler NOx
        ("exceedance", "resolved"): 1,  # handled two weeks ago
        ("constant", "open"): 1,
        ("offline", "open"): 1,
    }
    for alert in Alert.objects.select_related("case__category__parent"):
        case = must(alert.case)
        assert must(case.category.parent).name == "环境监管"
        expected = State.CLOSED if alert.status == AlertStatus.RESOLVED else State.DISPATCHED
        assert case.state == expected
    persistent = Alert.objects.get(outlet__enterprise__uscc=demo_uscc(0))
    assert persistent.is_persistent and persistent.periods == 2

    again = load_demo_environment(end=END)
    assert (again.readings, again.alerts_created, again.cases_closed) == (0, 0, 0)
    assert Alert.objects.count() == 6
