from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from civicloop.environment.standards import LIBRARY, load_library


class Command(BaseCommand):
    help = (
        "Reload the built-in standards library and pollutant catalogue from "
        "civicloop/environment/data/standards.json (idempotent; standards added in the admin "
        "are left alone)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        summary = load_library()
        self.stdout.write(
            f"{LIBRARY.name}: pollutants={summary.pollutants} standards={summary.standards} "
            f"editions={summary.editions} limits={summary.limits}"
        )
