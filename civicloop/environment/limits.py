"""Which limit applies to a datum: the permit's value, else the standard's (§3, §5.1).

HJ 942: the permitted concentration is the stricter of the standard and the local rules; the
permit states it, and an enterprise may promise a stricter value (承诺更加严格排放浓度限值);
special periods (重污染天气应对 …) set stricter values for a while. When the permit has no value
for the period being judged, the standard applied (edition in force on the data's date) gives it.
The reference O2 for correcting flue-gas concentrations always comes from the standard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _

from civicloop.environment import rules
from civicloop.environment.models import Medium, PermitLimit, StandardEdition, StandardLimit
from civicloop.environment.standards import choose_limit, edition_on, editions_of

PH_CODES = frozenset({"w01001", "001"})


@dataclass(frozen=True)
class EffectiveLimit:
    high: float | None
    low: float | None
    unit: str
    basis: str
    period: str  # "hour" or "day": the means the limit is judged on
    reference_o2: float | None = None

    @property
    def rule(self) -> rules.Limit:
        return rules.Limit(self.high, self.low)

    @property
    def is_set(self) -> bool:
        return self.high is not None or self.low is not None


def judging_period(limit: PermitLimit) -> str:
    """Air on hourly means, water on daily means, pH on each (hourly) value (§5.1)."""
    if limit.pollutant.code in PH_CODES:
        return "hour"
    if limit.outlet.medium == Medium.AIR:
        return "day" if limit.hourly_limit is None and limit.daily_limit is not None else "hour"
    return "day"


class LimitBook:
    """Resolves effective limits, remembering the standard cells it has looked up (a sweep
    over thousands of outlets asks for the same few cells again and again)."""

    def __init__(self) -> None:
        self._cells: dict[tuple[object, ...], StandardLimit | None] = {}
        self._library: dict[tuple[int, str], list[StandardEdition]] = {}

    def effective(self, limit: PermitLimit, *, on: date) -> EffectiveLimit:
        period = judging_period(limit)
        cell = self.cell(limit, on=on)
        permitted = _permitted(limit, period, on)
        o2 = cell.reference_o2 if cell else None
        if permitted is not None or limit.low_limit is not None:
            basis = _("许可限值（%(number)s 第%(version)s版）") % {
                "number": limit.permit.number,
                "version": limit.permit.version,
            }
            return EffectiveLimit(permitted, limit.low_limit, limit.unit, basis, period, o2)
        if cell is None:
            return EffectiveLimit(None, None, limit.unit, "", period, None)
        basis = f"{cell.edition.code} {cell.table} {cell.grade}".strip()
        return EffectiveLimit(cell.high, cell.low, cell.unit, basis, period, o2)

    def cell(self, limit: PermitLimit, *, on: date) -> StandardLimit | None:
        if limit.standard_id is None:
            return None
        key = (
            limit.standard_id,
            limit.pollutant.code,
            on,
            limit.standard_grade,
            limit.standard_applicability,
            limit.outlet.built_on,
            limit.standard_table,
        )
        if key not in self._cells:
            edition = edition_on(self._editions(limit.standard_id, limit.pollutant.code), on)
            self._cells[key] = choose_limit(
                edition.limits.all() if edition else [],
                pollutant_code=limit.pollutant.code,
                on=on,
                grade=limit.standard_grade,
                applicability=limit.standard_applicability,
                built_on=limit.outlet.built_on,
                table=limit.standard_table,
            )
        return self._cells[key]

    def _editions(self, standard_id: int, code: str) -> list[StandardEdition]:
        """A standard's editions with their limits for one pollutant, loaded once per book."""
        if (standard_id, code) not in self._library:
            self._library[(standard_id, code)] = editions_of(standard_id, code)
        return self._library[(standard_id, code)]


def effective_limit(limit: PermitLimit, *, on: date) -> EffectiveLimit:
    return LimitBook().effective(limit, on=on)


def _permitted(limit: PermitLimit, period: str, on: date) -> float | None:
    if limit.pollutant.code in PH_CODES:
        value = limit.daily_limit if limit.daily_limit is not None else limit.hourly_limit
    else:
        value = limit.hourly_limit if period == "hour" else limit.daily_limit
    candidates = [v for v in (value, limit.promised_limit) if v is not None]
    for special in limit.special_periods.all():
        if special.starts_on <= on <= special.ends_on and special.concentration_limit is not None:
            candidates.append(special.concentration_limit)
    return min(candidates) if candidates else None
