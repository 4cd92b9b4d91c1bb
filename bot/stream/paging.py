"""Walking every active ban although Stream refuses offsets past 10,000.

Pages go by offset, newest first. When the next offset would pass the cap, the walk restarts at
offset 0 with `created_at <= <oldest ban seen>`; bans already yielded (the ones sharing that
instant, or ones shifted by bans created meanwhile) are skipped by key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.stream.models import Ban

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageRequest:
    offset: int
    up_to: datetime | None  # only bans created at or before this instant; None: no bound


class BanCursor:
    def __init__(self, *, page_size: int, max_offset: int) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._page_size = page_size
        self._max_offset = max_offset
        self._offset = 0
        self._up_to: datetime | None = None
        self._seen: set[tuple[str, datetime]] = set()
        self._done = False

    def next_page(self) -> PageRequest | None:
        return None if self._done else PageRequest(self._offset, self._up_to)

    def take(
        self,
        page: Sequence[Ban],
        *,
        raw_count: int | None = None,
        oldest: datetime | None = None,
    ) -> list[Ban]:
        """Record a page that answered `next_page()`; return the bans not yielded before.

        `raw_count` is how many entries Stream sent (default: `len(page)`), counting any that
        could not be read: offsets count them too. `oldest` is the date of the last entry whose
        date is readable (default: the last ban's), where a created_at cursor goes on from.
        """
        sent = len(page) if raw_count is None else raw_count
        fresh = []
        for ban in page:
            key = (ban.user_id, ban.created_at)
            if key not in self._seen:
                self._seen.add(key)
                fresh.append(ban)
        if sent < self._page_size:
            self._done = True
            return fresh
        self._offset += sent
        if self._offset > self._max_offset:
            if oldest is None and page:
                oldest = page[-1].created_at
            if oldest is None:
                log.warning("a whole page of bans has no readable date; the rest cannot be paged")
                self._done = True
                return fresh
            if oldest == self._up_to:
                log.warning(
                    "more than %d bans share created_at %s; the rest cannot be paged",
                    self._max_offset,
                    oldest.isoformat(),
                )
                self._done = True
            self._up_to = oldest
            self._offset = 0
        return fresh
