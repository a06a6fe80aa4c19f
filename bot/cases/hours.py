"""Staffed hours: when counsellors answer in the chat (hotline 111 itself is 24/7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Viet Nam has had no daylight saving time since 1975: a fixed offset is exact
# when the system has no time zone database.
VIETNAM = timezone(timedelta(hours=7), "ICT")


@dataclass(frozen=True)
class StaffedHours:
    start: time | None  # None: always staffed
    end: time | None
    zone: tzinfo

    @classmethod
    def parse(cls, spec: str, zone_name: str) -> StaffedHours:
        try:
            zone: tzinfo = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = VIETNAM
        if spec == "always":
            return cls(None, None, zone)
        start, end = spec.split("-")
        return cls(_clock(start), _clock(end), zone)

    def is_open(self, now: datetime | None = None) -> bool:
        if self.start is None or self.end is None:
            return True
        local = (now or datetime.now(UTC)).astimezone(self.zone).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # a night shift across midnight

    def describe(self) -> str:
        """For the child: "7:00 đến 22:00"."""
        if self.start is None or self.end is None:
            return "cả ngày"
        return f"{_show(self.start)} đến {_show(self.end)}"


def _clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    return time.max if hours == 24 else time(hours, minutes)


def _show(value: time) -> str:
    return "24:00" if value == time.max else f"{value.hour}:{value.minute:02d}"
