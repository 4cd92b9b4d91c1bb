"""Stream's two date forms (RFC 3339 strings and integer nanoseconds), our duration words, and
how long ago something happened."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_stream_time(value: object) -> datetime:
    """Parse a Stream timestamp: RFC 3339 text, or integer nanoseconds since the epoch.

    Raises ValueError for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1_000_000_000, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1_000_000_000, tz=UTC)
        # 3.11's fromisoformat reads "Z" and drops fraction digits past the 6th (Stream sends
        # nanoseconds), but not RFC 3339's lowercase "z"; upper() changes nothing else it reads.
        parsed = datetime.fromisoformat(text.upper())
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


def format_stream_time(moment: datetime | float) -> str:
    """RFC 3339 with a Z, as Stream writes it."""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, tz=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def ago(moment: datetime | float, now: float) -> str:
    """How long before `now` (a clock reading) `moment` was, largest units first and at most two
    of them: `just now`, `12m ago`, `2h 5m ago`, `3d 4h ago`. A moment ahead of `now` (clocks
    disagree) reads `just now`."""
    if isinstance(moment, datetime):
        moment = moment.timestamp()
    minutes = int(max(0.0, now - moment) // 60)
    if minutes < 1:
        return "just now"
    parts = []
    for unit, size in (("d", 24 * 60), ("h", 60), ("m", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2]) + " ago"
