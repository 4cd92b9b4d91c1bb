"""The ban cursor's bookkeeping, against a model of Stream's paging (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.stream import Ban
from bot.stream.paging import BanCursor

EPOCH = datetime(2027, 1, 1, tzinfo=UTC)


def model_stream(bans: list[Ban], offset: int, limit: int, up_to: datetime | None) -> list[Ban]:
    """Newest first, ties by user id, optionally `created_at <= up_to`."""
    matching = [b for b in bans if up_to is None or b.created_at <= up_to]
    matching.sort(key=lambda b: b.user_id)
    matching.sort(key=lambda b: b.created_at, reverse=True)
    return matching[offset : offset + limit]


def walk(bans: list[Ban], page_size: int, max_offset: int) -> tuple[list[Ban], list[int]]:
    cursor = BanCursor(page_size=page_size, max_offset=max_offset)
    yielded: list[Ban] = []
    offsets: list[int] = []
    while (request := cursor.next_page()) is not None:
        offsets.append(request.offset)
        page = model_stream(bans, request.offset, page_size, request.up_to)
        yielded.extend(cursor.take(page))
    return yielded, offsets


@settings(max_examples=200, deadline=None)
@given(
    group_sizes=st.lists(st.integers(min_value=1, max_value=4), max_size=30),
    page_size=st.integers(min_value=1, max_value=5),
    max_offset=st.integers(min_value=4, max_value=12),
)
def test_every_ban_once_newest_first(
    group_sizes: list[int], page_size: int, max_offset: int
) -> None:
    bans = []
    for second, size in enumerate(group_sizes):
        for n in range(size):
            created = EPOCH + timedelta(seconds=second)
            bans.append(Ban(f"u{second}-{n}", None, None, created, None, None))

    yielded, offsets = walk(bans, page_size, max_offset)

    assert sorted(b.user_id for b in yielded) == sorted(b.user_id for b in bans)
    assert len(yielded) == len(bans)
    assert [b.created_at for b in yielded] == sorted((b.created_at for b in bans), reverse=True)
    assert all(offset <= max_offset for offset in offsets)


def test_too_many_bans_at_one_instant_stops_instead_of_looping() -> None:
    bans = [Ban(f"u{n:03d}", None, None, EPOCH, None, None) for n in range(50)]

    yielded, offsets = walk(bans, page_size=2, max_offset=6)

    assert len(yielded) < 50
    assert len(offsets) < 20


def test_empty() -> None:
    assert walk([], page_size=3, max_offset=10) == ([], [0])
