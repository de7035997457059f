"""Dates of ClimSim files in E3SM's ``noleap`` calendar (365 days, no 29 February).

A file's time stamp is ``YYYY-MM-DD-SSSSS`` (seconds of the day); configuration dates
(``val_from``, ``evaluate --from``) are ``YYYY-MM-DD``. Both are checked here, so that an
impossible date is refused with a message instead of selecting nothing.
"""

from __future__ import annotations

import re

DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
SECONDS_PER_DAY = 86400
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_STAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{5})$")


class DateError(ValueError):
    """A date or time stamp is malformed or does not exist in the noleap calendar."""


def _check_day(text: str, what: str, y: int, m: int, d: int) -> None:
    if not 1 <= m <= 12:
        raise DateError(f"{what} {text!r}: month {m} does not exist")
    if not 1 <= d <= DAYS_IN_MONTH[m - 1]:
        raise DateError(
            f"{what} {text!r}: day {d} does not exist in month {m} "
            f"({DAYS_IN_MONTH[m - 1]} days in E3SM's noleap calendar)"
        )


def parse_date(text, what: str = "date") -> tuple[int, int, int]:
    """``"0001-02-28"`` -> ``(1, 2, 28)``; :class:`DateError` naming ``what`` otherwise."""
    m = _DATE.match(str(text))
    if not m:
        raise DateError(f"{what} {text!r} is not a date of the form YYYY-MM-DD")
    y, mo, d = (int(v) for v in m.groups())
    _check_day(str(text), what, y, mo, d)
    return y, mo, d


def parse_stamp(text, what: str = "time stamp") -> tuple[int, int, int, int]:
    """``"0001-02-28-79200"`` -> ``(1, 2, 28, 79200)``: a date and the seconds of the day."""
    m = _STAMP.match(str(text))
    if not m:
        raise DateError(f"{what} {text!r} is not a time stamp of the form YYYY-MM-DD-SSSSS")
    y, mo, d, s = (int(v) for v in m.groups())
    _check_day(str(text), what, y, mo, d)
    if s >= SECONDS_PER_DAY:
        raise DateError(f"{what} {text!r}: {s} seconds is not a time of day (0..{SECONDS_PER_DAY - 1})")
    return y, mo, d, s


def advance(y: int, m: int, d: int, s: int, seconds: float) -> tuple[int, int, int, int]:
    """The time stamp ``seconds`` after ``(y, m, d, s)`` in the noleap calendar."""
    s += int(seconds)
    while s >= SECONDS_PER_DAY:
        s -= SECONDS_PER_DAY
        d += 1
        if d > DAYS_IN_MONTH[m - 1]:
            d, m = 1, m + 1
            if m > 12:
                m, y = 1, y + 1
    return y, m, d, s


def stamp(time: tuple[int, int, int, int]) -> str:
    """``(1, 2, 28, 79200)`` -> ``"0001-02-28-79200"``."""
    y, m, d, s = time
    return f"{y:04d}-{m:02d}-{d:02d}-{s:05d}"
