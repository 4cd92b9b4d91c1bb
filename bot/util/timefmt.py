"""Stream's two date forms (RFC 3339 strings and integer nanoseconds) and our duration words."""

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
