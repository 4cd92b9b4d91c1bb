"""Entries of a list answer the client cannot read (the ban of a hard-deleted user comes back with
`"user": null`) are left out, logged and reported one by one; the rest of the list still counts,
and paging still advances past them."""

from __future__ import annotations

import json
import logging

import pytest

from bot.local.emulator import StreamEmulator
from bot.stream import StreamClient
from bot.util.clock import ManualClock
from bot.util.timefmt import format_stream_time, parse_stream_time

from .conftest import MakeClient

LOGGER = "bot.stream.client"


class Reports:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, operation: str, reason: str) -> None:
        self.seen.append((operation, reason))


@pytest.fixture
def reports() -> Reports:
    return Reports()


@pytest.fixture
def reporting(make_client: MakeClient, reports: Reports) -> StreamClient:
    return make_client(on_unreadable=reports)


def ban(emulator: StreamEmulator, user: str, at: float) -> None:
    if user not in emulator.state.users:
        emulator.add_user(user)
    emulator.state.ban(user, banned_by="john", reason=None, timeout_minutes=None, ip_ban=False)
    emulator.state.bans[user].created_at = at


def skipped_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and "left out" in r.msg]


async def test_a_deleted_users_ban_is_left_out_logged_and_reported(
    reporting: StreamClient,
    emulator: StreamEmulator,
    clock: ManualClock,
    reports: Reports,
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = clock.time()
    ban(emulator, "sara", now - 30)
    ban(emulator, "bob", now - 10)
    emulator.plant_deleted_user_ban("john", created_at=now - 20, reason="call me on 555-0100")

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        page = await reporting.query_bans()

    assert [b.user_id for b in page] == ["bob", "sara"]
    assert page.raw_count == 3
    [skipped] = page.skipped
    assert (skipped.index, skipped.reason) == (1, "bans[].user.id is missing")
    assert reports.seen == [("query_bans", "bans[].user.id is missing")]
    [line] = skipped_lines(caplog)
    created = format_stream_time(now - 20)
    assert line == (
        "stream query_bans: left out entry 1 of the answer "
        f"(user ?, banned by john, created {created}), which cannot be read: "
        "bans[].user.id is missing"
    )
    assert "555" not in line  # free text (the ban's reason) is never logged


async def test_offsets_count_the_left_out_entry(
    reporting: StreamClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    now = clock.time()
    for n, user in enumerate(["u1", "u2", "u3", "u4"]):
        ban(emulator, user, now - 10 * n)
    emulator.plant_deleted_user_ban("john", created_at=now - 15)  # between u2 and u3

    first = await reporting.query_bans(limit=2)
    second = await reporting.query_bans(limit=2, offset=first.raw_count)
    third = await reporting.query_bans(limit=2, offset=first.raw_count + second.raw_count)

    assert [b.user_id for b in first] == ["u1", "u2"]
    assert ([b.user_id for b in second], second.raw_count) == (["u3"], 2)
    assert ([b.user_id for b in third], third.raw_count) == (["u4"], 1)


async def test_iter_bans_pages_past_left_out_entries(
    reporting: StreamClient, emulator: StreamEmulator, clock: ManualClock, reports: Reports
) -> None:
    now = clock.time()
    for n in range(7):
        ban(emulator, f"user-{n}", now - 10 * n)
    emulator.plant_deleted_user_ban("john", created_at=now - 15)  # last on the first page of 3
    emulator.plant_deleted_user_ban("john", created_at=now - 1000)  # the very last entry

    seen = [b.user_id async for b in reporting.iter_bans(page_size=3)]

    assert seen == [f"user-{n}" for n in range(7)]
    assert len(reports.seen) == 2


async def test_the_cursor_goes_on_from_a_left_out_entrys_date(
    reporting: StreamClient, emulator: StreamEmulator, clock: ManualClock, reports: Reports
) -> None:
    now = clock.time()
    for n in range(6):
        ban(emulator, f"user-{n}", now - 10 * n)
    hole = now - 25  # the last entry of the page where the walk passes the offset cap
    emulator.plant_deleted_user_ban("john", created_at=hole)
    reporting.max_bans_offset = 3

    seen = [b.user_id async for b in reporting.iter_bans(page_size=2)]

    assert seen == [f"user-{n}" for n in range(6)]
    payloads = [json.loads(r.query["payload"]) for r in emulator.requests]
    [first_bound, *_] = [
        p["filter_conditions"]["created_at"]["$lte"]
        for p in payloads
        if "created_at" in p["filter_conditions"]
    ]
    assert parse_stream_time(first_bound) == parse_stream_time(format_stream_time(hole))
    assert all(p["offset"] <= 3 for p in payloads)
    assert len(reports.seen) == 1  # met twice (the cursor's bound includes it), reported once


async def test_a_failing_hook_does_not_fail_the_answer(
    make_client: MakeClient, emulator: StreamEmulator, clock: ManualClock
) -> None:
    def broken(operation: str, reason: str) -> None:
        raise RuntimeError("metrics are down")

    ban(emulator, "sara", clock.time() - 5)
    emulator.plant_deleted_user_ban("john")

    page = await make_client(on_unreadable=broken).query_bans()

    assert [b.user_id for b in page] == ["sara"]
