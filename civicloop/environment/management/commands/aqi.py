"""`civicloop aqi --edition HJ633-2026 --period hour so2=5 no2=20 co=0.6 o3=80 pm10=45 pm25=30`

Prints the AQI as JSON (aqi, primary, level, category, colour, each iaqi …). Daily reports take
o3_8h (and, under HJ 633—2012, o3 as the daily maximum 1-hour value); hourly reports may add
so2_24h for the 2012 rule on SO2 above 800 µg/m³.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from civicloop.environment import aqi

HOURLY_KEYS = {"so2", "no2", "co", "o3", "pm10", "pm25", "so2_24h"}
DAILY_KEYS = {"so2", "no2", "co", "o3", "o3_8h", "pm10", "pm25"}


def parse_values(items: list[str], allowed: set[str]) -> dict[str, str]:
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower().replace(".", "")
        if not sep or key not in allowed:
            raise CommandError(f"expected name=value with name in {sorted(allowed)}: {item!r}")
        if aqi.round_concentration(key, value) is None:
            raise CommandError(f"not a non-negative number: {item!r}")
        values[key] = value
    return values


class Command(BaseCommand):
    help = "AQI per HJ 633 (2012 or 2026 edition), real-time (hour) or daily (day), as JSON."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--edition", choices=[str(e) for e in aqi.Edition], required=True)
        parser.add_argument("--period", choices=[str(p) for p in aqi.Period], default="hour")
        parser.add_argument("values", nargs="+", help="so2=… no2=… co=… o3=… pm10=… pm25=…")

    def handle(self, *args: Any, **options: Any) -> None:
        period = aqi.Period(options["period"])
        allowed = HOURLY_KEYS if period == aqi.Period.HOUR else DAILY_KEYS
        values = parse_values(options["values"], allowed)
        result = aqi.compute(aqi.Edition(options["edition"]), period, values)
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
