"""The command grammar and role table, one command line at a time, without a server.

Each test calls a registry `Command`'s `parse`, `role_needed` and `plan` directly (milliseconds
each); the end-to-end tests (test_cmd_bad_input.py, test_cmd_roles.py, …) check the same lines
through Slack, the dispatcher and the emulator.
"""

from __future__ import annotations

import contextlib
import functools
from datetime import timedelta
from typing import Any

import pytest

from bot.core.parsing import UsageError
from bot.core.registry import Command, Registry
from bot.settings import Settings
from bot.stream import CallRef
from commands import build_registry

CALL = CallRef(type="default", id="call-123")
LONG = "x" * 300
EVERY_TRACK = ("audio", "video", "screenshare", "screenshare_audio")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry()


@functools.cache
def settings(call_type: str = "default") -> Settings:
    return Settings(_env_file=None, mod_default_call_type=call_type)  # type: ignore[call-arg]


def command_of(registry: Registry, line: str) -> tuple[Command[Any], str]:
    """`/kick sara call-123` -> (the kick command, "sara call-123")."""
    name, _, text = line.removeprefix("/").partition(" ")
    command = registry.get(name)
    assert command is not None, f"/{name} is not in the registry"
    return command, text


def parse(registry: Registry, line: str, call_type: str = "default") -> Any:
    command, text = command_of(registry, line)
    return command.parse(text, settings(call_type))


def fields(args: Any, expected: dict[str, Any]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in expected}


# --- valid lines ----------------------------------------------------------------------------

# (line, the parsed args: attribute -> value, or the value itself for commands whose args are a
# plain user id)
VALID: list[tuple[str, Any]] = [
    # /kick, /block, /unblock
    ("/kick sara call-123", {"user": "sara", "call": CALL, "block": False}),
    ("/kick @sara call-123", {"user": "sara", "call": CALL, "block": False}),
    ("/kick sara call-123 --block", {"user": "sara", "call": CALL, "block": True}),
    ("/kick --block sara call-123", {"user": "sara", "call": CALL, "block": True}),
    ("/kick   sara    call-123  ", {"user": "sara", "call": CALL, "block": False}),
    ("/kick sara default:call-123", {"user": "sara", "call": CALL}),
    ("/kick sara livestream:call-123", {"call": CallRef(type="livestream", id="call-123")}),
    ("/kick a_b-c@d Call_ABC-9", {"user": "a_b-c@d", "call": CallRef("default", "Call_ABC-9")}),
    (f"/kick {'u' * 255} {'c' * 64}", {"user": "u" * 255, "call": CallRef("default", "c" * 64)}),
    ("/block sara call-123", {"user": "sara", "call": CALL}),
    (
        "/block @john livestream:call-123",
        {"user": "john", "call": CallRef("livestream", "call-123")},
    ),
    ("/unblock sara call-123", {"user": "sara", "call": CALL}),
    # /kick and /block: an optional reason after the call (flags anywhere)
    ("/kick sara call-123", {"reason": None, "preset": None}),
    ("/kick sara call-123 spamming  the chat", {"reason": "spamming the chat", "block": False}),
    ("/kick sara call-123 spamming --block", {"reason": "spamming", "block": True}),
    ("/block sara call-123 rude again", {"user": "sara", "call": CALL, "reason": "rude again"}),
    ("/block sara call-123 a&b <3", {"reason": "a&b <3"}),
    # /mute: users, deduplicated in order; tracks in order, default audio, `all` wins
    ("/mute sara call-123", {"users": ("sara",), "call": CALL, "tracks": ("audio",)}),
    ("/mute sara,john,@alice,sara call-123 video", {"users": ("sara", "john", "alice")}),
    ("/mute sara,,john, call-123", {"users": ("sara", "john")}),
    ("/mute sara call-123 audio", {"tracks": ("audio",)}),
    ("/mute sara call-123 video", {"tracks": ("video",)}),
    ("/mute sara call-123 screenshare", {"tracks": ("screenshare",)}),
    ("/mute sara call-123 screenshare_audio", {"tracks": ("screenshare_audio",)}),
    ("/mute sara call-123 VIDEO audio video", {"tracks": ("video", "audio")}),
    ("/mute sara call-123 all", {"tracks": EVERY_TRACK}),
    ("/mute sara call-123 video all", {"tracks": EVERY_TRACK}),
    ("/mute sara call-123 ALL", {"tracks": EVERY_TRACK}),
    # /muteall
    ("/muteall call-123", {"call": CALL, "tracks": ("audio",)}),
    ("/muteall call-123 video screenshare", {"call": CALL, "tracks": ("video", "screenshare")}),
    ("/muteall livestream:call-123 screenshare_audio", {"tracks": ("screenshare_audio",)}),
    # /screenshare
    ("/screenshare call-123 on", {"call": CALL, "mode": "on"}),
    ("/screenshare call-123 off", {"call": CALL, "mode": "off"}),
    ("/screenshare call-123 request", {"call": CALL, "mode": "request"}),
    ("/screenshare call-123 REQUEST", {"call": CALL, "mode": "request"}),
    ("/screenshare livestream:call-123 Off", {"call": CallRef("livestream", "call-123")}),
    # /grant, /revoke: permission words to Stream's names, deduplicated in order
    ("/grant sara call-123 audio", {"user": "sara", "call": CALL, "permissions": ("send-audio",)}),
    ("/grant sara call-123 video", {"permissions": ("send-video",)}),
    ("/grant sara call-123 screenshare", {"permissions": ("screenshare",)}),
    ("/grant sara call-123 Audio", {"permissions": ("send-audio",)}),
    (
        "/grant sara call-123 audio video screenshare audio",
        {"permissions": ("send-audio", "send-video", "screenshare")},
    ),
    ("/revoke @john call-123 audio", {"user": "john", "permissions": ("send-audio",)}),
    ("/revoke john call-123 screenshare video", {"permissions": ("screenshare", "send-video")}),
    # /ban: a duration only right after the user; the rest is the reason
    ("/ban sara", {"user": "sara", "duration": None, "reason": None, "ip_ban": False}),
    ("/ban @sara", {"user": "sara", "duration": None}),
    ("/ban sara 1m", {"duration": timedelta(minutes=1), "reason": None}),
    ("/ban sara 30m", {"duration": timedelta(minutes=30)}),
    ("/ban sara 2h", {"duration": timedelta(hours=2)}),
    ("/ban sara 23h59m", {"duration": timedelta(hours=23, minutes=59)}),
    ("/ban sara 24h", {"duration": timedelta(days=1)}),
    ("/ban sara 1d", {"duration": timedelta(days=1)}),
    ("/ban sara 1d12h", {"duration": timedelta(hours=36)}),
    ("/ban sara 1w", {"duration": timedelta(weeks=1)}),
    ("/ban sara 1W2D3H4M", {"duration": timedelta(days=9, hours=3, minutes=4)}),
    ("/ban sara 365d", {"duration": timedelta(days=365)}),
    ("/ban sara 52w1d", {"duration": timedelta(days=365)}),
    ("/ban sara spamming", {"duration": None, "reason": "spamming", "ip_ban": False}),
    ("/ban sara spam 2h", {"duration": None, "reason": "spam 2h"}),
    ("/ban sara 90m spam  a   lot", {"duration": timedelta(minutes=90), "reason": "spam a lot"}),
    (
        "/ban sara 2h spamming <!channel> & links",
        {"duration": timedelta(hours=2), "reason": "spamming <!channel> & links"},
    ),
    ("/ban sara 1h --ip", {"duration": timedelta(hours=1), "reason": None, "ip_ban": True}),
    (
        "/ban sara 1d --ip abusive",
        {"duration": timedelta(days=1), "reason": "abusive", "ip_ban": True},
    ),
    ("/ban --ip sara", {"user": "sara", "duration": None, "ip_ban": True}),
    (f"/ban sara 1h {'r' * 500}", {"reason": "r" * 500}),
    # /unban, /bans, /blocked: the args are the user id itself
    ("/unban sara", "sara"),
    ("/unban @sara", "sara"),
    ("/bans", None),
    ("/bans sara", "sara"),
    ("/bans @alice", "alice"),
    ("/blocked sara", "sara"),
    ("/blocked @sara", "sara"),
    # /deactivate, /reactivate
    ("/deactivate sara", {"user": "sara", "messages": False}),
    ("/deactivate @sara --delete-messages", {"user": "sara", "messages": True}),
    ("/reactivate sara", {"user": "sara", "messages": False}),
    ("/reactivate sara --restore-messages", {"user": "sara", "messages": True}),
    # /userblock, /userunblock
    ("/userblock sara john", {"user": "sara", "blocked": "john"}),
    ("/userblock @sara @john", {"user": "sara", "blocked": "john"}),
    ("/userunblock sara john", {"user": "sara", "blocked": "john"}),
    # /cases, /case
    ("/cases sara", {"user": "sara", "moderator": None}),
    ("/cases @sara", {"user": "sara", "moderator": None}),
    ("/cases by <@U0MODER01|tom>", {"user": None, "moderator": "U0MODER01"}),
    ("/cases BY @U0MODER01", {"user": None, "moderator": "U0MODER01"}),
    ("/case 41", {"number": 41, "action": "show", "text": None}),
    ("/case #41", {"number": 41, "action": "show", "text": None}),
    ("/case 41 note seen again", {"number": 41, "action": "note", "text": "seen again"}),
    ("/case 41 REASON spam", {"number": 41, "action": "reason", "text": "spam"}),
    ("/case 41 void wrong user", {"number": 41, "action": "void", "text": "wrong user"}),
    # /endcall: the call, then the reason
    ("/endcall call-123", {"call": CALL, "reason": None, "people": None}),
    (
        "/endcall livestream:call-123 raid  in progress",
        {"call": CallRef("livestream", "call-123"), "reason": "raid in progress"},
    ),
    (f"/endcall call-123 {'r' * 500}", {"reason": "r" * 500}),
    # /user
    ("/user sara", {"user": "sara", "profile": None}),
    ("/user @sara", {"user": "sara"}),
    # /rename: the rest of the line is the name, on one line with single spaces
    ("/rename sara user-1234", {"user": "sara", "name": "user-1234", "old_name": None}),
    ("/rename @sara   Sara \n  K. ", {"user": "sara", "name": "Sara K."}),
    ("/rename sara <!channel> & *co*", {"name": "<!channel> & *co*"}),
    ("/rename sara --not-a-flag", {"name": "--not-a-flag"}),
    (f"/rename sara {'n' * 100}", {"name": "n" * 100}),
    # /clearavatar
    ("/clearavatar sara", {"user": "sara", "old_image": None}),
    ("/clearavatar @sara", {"user": "sara"}),
    # /calls, /roster: the call, then the rest of the line as one filter (any case)
    ("/calls", None),
    ("/roster call-123", {"call": CALL, "filter": None}),
    (
        "/roster livestream:call-123 Sara  Smith",
        {"call": CallRef("livestream", "call-123"), "filter": "Sara Smith"},
    ),
    (f"/roster call-123 {'f' * 64}", {"filter": "f" * 64}),
    # /queue [page], /report <user> <call> <reason…> (the reason as typed, spaces folded)
    ("/queue", 0),
    ("/queue 3", 2),
    (
        "/report @sara call-123 shouting  slurs --loud",
        {"user": "sara", "call": CALL, "reason": "shouting slurs --loud"},
    ),
]


@pytest.mark.parametrize(("line", "expected"), VALID)
def test_valid_line_parses(registry: Registry, line: str, expected: Any) -> None:
    args = parse(registry, line)
    if isinstance(expected, dict):
        assert fields(args, expected) == expected
    else:
        assert args == expected


@pytest.mark.parametrize(
    "line",
    [
        "/kick sara call-123",
        "/block sara call-123",
        "/unblock sara call-123",
        "/mute sara call-123",
        "/muteall call-123",
        "/screenshare call-123 on",
        "/grant sara call-123 audio",
        "/revoke sara call-123 audio",
        "/endcall call-123",
        "/roster call-123",
    ],
)
def test_a_bare_call_id_gets_the_configured_call_type(registry: Registry, line: str) -> None:
    assert parse(registry, line, call_type="livestream").call == CallRef("livestream", "call-123")
    typed = line.replace("call-123", "default:call-123")
    assert parse(registry, typed, call_type="livestream").call == CALL


# --- invalid lines --------------------------------------------------------------------------

# (line, a fragment of the UsageError's sentence naming the problem)
INVALID: list[tuple[str, str]] = [
    # missing arguments
    ("/kick", "some arguments are missing"),
    ("/kick sara", "some arguments are missing"),
    ("/kick --block", "some arguments are missing"),
    ("/block sara", "some arguments are missing"),
    ("/unblock", "some arguments are missing"),
    ("/mute", "some arguments are missing"),
    ("/mute sara", "some arguments are missing"),
    ("/muteall", "some arguments are missing"),
    ("/screenshare", "some arguments are missing"),
    ("/screenshare call-123", "some arguments are missing"),
    ("/grant sara call-123", "some arguments are missing"),
    ("/revoke sara", "some arguments are missing"),
    ("/ban", "some arguments are missing"),
    ("/ban --ip", "some arguments are missing"),
    ("/unban", "some arguments are missing"),
    ("/deactivate", "some arguments are missing"),
    ("/deactivate --delete-messages", "some arguments are missing"),
    ("/reactivate", "some arguments are missing"),
    ("/userblock sara", "some arguments are missing"),
    ("/userunblock", "some arguments are missing"),
    ("/blocked", "some arguments are missing"),
    # extra arguments
    # /kick and /block take a trailing reason (below); /unblock takes none
    ("/unblock sara call-123 now", "unexpected extra words: `now`"),
    ("/unblock sa ra call-123", "unexpected extra words: `call-123`"),
    ("/unblock sara call-123 x y", "unexpected extra words: `x y`"),
    ("/kick sara call-123 " + "r" * 501, "the reason is longer than 500 characters"),
    ("/block sara call-123 #nope", "`#nope` is not a reason preset (known: none are configured)"),
    ("/unblock sara call-123 again", "unexpected extra words: `again`"),
    ("/screenshare call-123 on please", "unexpected extra words: `please`"),
    ("/unban sara john", "unexpected extra words: `john`"),
    ("/bans sara john", "unexpected extra words: `john`"),
    ("/deactivate sara john", "unexpected extra words: `john`"),
    ("/reactivate sara john", "unexpected extra words: `john`"),
    ("/userblock sara john bob", "unexpected extra words: `bob`"),
    ("/userunblock sara john bob", "unexpected extra words: `bob`"),
    ("/blocked sara john", "unexpected extra words: `john`"),
    # malformed user and call ids
    ("/kick bad/id call-123", "`bad/id` is not a Stream user id"),
    ("/kick sara call:with:colons", "`call:with` is not a call type"),
    ("/kick sara Live:call-123", "`Live` is not a call type"),
    ("/kick sara :call-123", "is not a call type"),
    ("/kick sara call.123", "`call.123` is not a call id"),
    ("/kick sara default:", "`default:` is not a call id"),
    (f"/kick {'u' * 256} call-123", "is not a Stream user id"),
    (f"/kick sara {'c' * 65}", "is not a call id"),
    ("/block sara# call-123", "`sara#` is not a Stream user id"),
    ("/unblock sara call/123", "`call/123` is not a call id"),
    ("/mute sara,b!d call-123", "`b!d` is not a Stream user id"),
    ("/mute ,,, call-123", "name at least one user"),
    ("/muteall Live:call-123", "`Live` is not a call type"),
    ("/screenshare call.123 on", "`call.123` is not a call id"),
    ("/grant bad/id call-123 audio", "`bad/id` is not a Stream user id"),
    ("/revoke sara call:x:y audio", "`call:x` is not a call type"),
    ("/ban s<a>ra 1h", "`s&lt;a&gt;ra` is not a Stream user id"),
    ("/unban sara!", "`sara!` is not a Stream user id"),
    ("/bans b@d!", "`b@d!` is not a Stream user id"),
    ("/deactivate sa.ra", "`sa.ra` is not a Stream user id"),
    ("/reactivate sa.ra", "`sa.ra` is not a Stream user id"),
    ("/userblock sara jo#hn", "`jo#hn` is not a Stream user id"),
    ("/userunblock jo#hn sara", "`jo#hn` is not a Stream user id"),
    ("/blocked a/b", "`a/b` is not a Stream user id"),
    # durations and reasons
    ("/ban sara 0m", "`0m` is too short: a ban lasts at least 1 minute"),
    ("/ban sara 0d", "`0d` is too short"),
    ("/ban sara -1h", "`-1h` is not a duration"),
    ("/ban sara +1h", "`+1h` is not a duration"),
    ("/ban sara 2", "`2` is not a duration"),
    ("/ban sara 1x", "`1x` is not a duration"),
    ("/ban sara 1h1d", "`1h1d` is not a duration"),
    ("/ban sara 1d1d", "`1d1d` is not a duration"),
    ("/ban sara 30s", "`30s` is not a duration"),
    ("/ban sara 366d", "`366d` is longer than 52w 1d"),
    ("/ban sara 53w", "`53w` is longer than"),
    ("/ban sara 99999d", "`99999d` is longer than"),
    ("/ban sara 99999999999999999999m", "is longer than"),
    (f"/ban sara 1h {'r' * 501}", "the reason is longer than 500 characters"),
    (f"/ban sara {'r' * 300} {'s' * 200}", "the reason is longer than 500 characters"),
    # unknown permission, track and mode words
    ("/grant sara call-123 fly", "`fly` is not a permission (use audio, video or screenshare)"),
    ("/grant sara call-123 screenshare_audio", "`screenshare_audio` is not a permission"),
    ("/revoke sara call-123 audio send-audio", "`send-audio` is not a permission"),
    ("/mute sara call-123 loud", "`loud` is not a track"),
    ("/mute sara call-123 audio loud", "`loud` is not a track"),
    ("/muteall call-123 all", "`all` is not a track"),
    ("/muteall call-123 video loud", "`loud` is not a track"),
    ("/screenshare call-123 maybe", "`maybe` is not a mode (use on, off or request)"),
    ("/screenshare on call-123", "`call-123` is not a mode"),
    # unknown flags
    ("/kick sara call-123 --frob", "unknown option `--frob` (options: --block)"),
    ("/block sara call-123 --block", "unknown option `--block` (options: none)"),
    ("/unblock sara call-123 --block", "unknown option `--block` (options: none)"),
    ("/mute sara call-123 --all", "unknown option `--all` (options: none)"),
    ("/muteall call-123 --force", "unknown option `--force` (options: none)"),
    ("/screenshare call-123 on --now", "unknown option `--now`"),
    ("/grant sara call-123 audio --all", "unknown option `--all`"),
    ("/revoke sara call-123 audio --all", "unknown option `--all`"),
    ("/ban sara 1h --permanent", "unknown option `--permanent` (options: --ip)"),
    ("/unban sara --ip", "unknown option `--ip` (options: none)"),
    ("/bans --all", "unknown option `--all` (options: none)"),
    (
        "/deactivate sara --restore-messages",
        "unknown option `--restore-messages` (options: --delete-messages)",
    ),
    (
        "/reactivate sara --delete-messages",
        "unknown option `--delete-messages` (options: --restore-messages)",
    ),
    ("/userblock sara john --both", "unknown option `--both`"),
    ("/userunblock sara john --both", "unknown option `--both`"),
    ("/blocked sara --all", "unknown option `--all`"),
    ("/cases", "some arguments are missing"),
    ("/cases sara john", "unexpected extra words: `john`"),
    ("/cases by", "some arguments are missing"),
    ("/cases by tom", "is not a Slack user"),
    ("/cases a/b", "`a/b` is not a Stream user id"),
    ("/case", "name a case by its number"),
    ("/case x1", "`x1` is not a case number"),
    ("/case 1 frob", "`frob` is not one of note, reason or void"),
    ("/case 1 note", "say what the note is"),
    ("/case 1 note " + "x" * 2001, "the note is longer than 2000 characters"),
    ("/endcall", "some arguments are missing"),
    ("/endcall call.123", "`call.123` is not a call id"),
    ("/endcall Live:call-123", "`Live` is not a call type"),
    ("/endcall call-123 --now", "unknown option `--now` (options: none)"),
    (f"/endcall call-123 {'r' * 501}", "the reason is longer than 500 characters"),
    ("/user", "some arguments are missing"),
    ("/user sara john", "unexpected extra words: `john`"),
    ("/user sa.ra", "`sa.ra` is not a Stream user id"),
    ("/user sara --all", "unknown option `--all` (options: none)"),
    ("/rename", "some arguments are missing"),
    ("/rename   ", "some arguments are missing"),
    ("/rename sara", "say what the new name is"),
    ("/rename sara   ", "say what the new name is"),
    (f"/rename sara {'n' * 101}", "the new name is longer than 100 characters"),
    (f"/rename sara {'n' * 200}", "the new name is longer than 100 characters"),
    ("/rename sa/ra Sara", "`sa/ra` is not a Stream user id"),
    ("/clearavatar", "some arguments are missing"),
    ("/clearavatar sara john", "unexpected extra words: `john`"),
    ("/clearavatar sara --all", "unknown option `--all` (options: none)"),
    ("/clearavatar sa.ra", "`sa.ra` is not a Stream user id"),
    ("/calls live", "unexpected extra words: `live`"),
    ("/calls --all", "unknown option `--all` (options: none)"),
    ("/roster", "some arguments are missing"),
    ("/roster call.123 sara", "`call.123` is not a call id"),
    ("/roster Live:call-123", "`Live` is not a call type"),
    ("/roster call-123 --all", "unknown option `--all` (options: none)"),
    (f"/roster call-123 {'f' * 65}", "the filter is longer than 64 characters"),
    ("/queue next", "the only argument is a page number"),
    ("/queue 0", "the only argument is a page number"),
    ("/report sara call-123", "name the user, the call and what happened"),
    ("/report sa/ra call-123 rude", "`sa/ra` is not a Stream user id"),
    ("/report sara call.123 rude", "`call.123` is not a call id"),
    (f"/report sara call-123 {'r' * 256}", "Stream takes at most 255"),
]


@pytest.mark.parametrize(("line", "fragment"), INVALID)
def test_invalid_line_is_a_usage_error_naming_the_problem(
    registry: Registry, line: str, fragment: str
) -> None:
    with pytest.raises(UsageError) as caught:
        parse(registry, line)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message
    assert len(message) < 200, "the user's text is not shortened"


@pytest.mark.parametrize(
    "line",
    [f"/kick {LONG} call-123", f"/kick sara {LONG}", f"/ban sara 1{LONG}", f"/bans {LONG}!"],
)
def test_long_input_is_shortened_in_the_message(registry: Registry, line: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(registry, line)
    assert "x" * 41 not in str(caught.value)
    assert "…" in str(caught.value)


@pytest.mark.parametrize("text", ["", "sara", "sara call-123 now", "bad/id call-123 audio"])
def test_bad_input_never_raises_anything_but_a_usage_error(registry: Registry, text: str) -> None:
    for command in registry:
        with contextlib.suppress(UsageError):
            command.parse(text, settings())


def test_every_command_has_valid_and_invalid_examples(registry: Registry) -> None:
    names = set(registry.commands)
    assert len(names) >= 16, names
    assert {command_of(registry, line)[0].name for line, _ in VALID} == names
    assert {command_of(registry, line)[0].name for line, _ in INVALID} == names
    assert {command_of(registry, line)[0].name for line, _, _ in PLANS} == names


# --- roles ----------------------------------------------------------------------------------

# (line, the role `role_needed` asks for) — DESIGN.md §4: moderators kick, block, unblock, mute,
# grant, revoke, list and ban for at most a day; the rest needs an admin.
ROLES: list[tuple[str, str]] = [
    ("/kick sara call-123", "moderator"),
    ("/kick sara call-123 --block", "moderator"),
    ("/block sara call-123", "moderator"),
    ("/unblock sara call-123", "moderator"),
    ("/mute sara call-123", "moderator"),
    ("/mute sara,john call-123 all", "moderator"),
    ("/muteall call-123", "admin"),
    ("/screenshare call-123 on", "admin"),
    ("/screenshare call-123 off", "admin"),
    ("/grant sara call-123 audio", "moderator"),
    ("/revoke sara call-123 screenshare", "moderator"),
    ("/ban sara 1m", "moderator"),
    ("/ban sara 30m", "moderator"),
    ("/ban sara 2h", "moderator"),
    ("/ban sara 2h spamming", "moderator"),
    ("/ban sara 23h59m", "moderator"),
    ("/ban sara 24h", "moderator"),
    ("/ban sara 1d", "moderator"),
    ("/ban sara 1d1m", "admin"),
    ("/ban sara 25h", "admin"),
    ("/ban sara 2d", "admin"),
    ("/ban sara 1w", "admin"),
    ("/ban sara 365d", "admin"),
    ("/ban sara", "admin"),
    ("/ban sara spamming", "admin"),
    ("/ban sara 1h --ip", "admin"),
    ("/ban sara 1m --ip", "admin"),
    ("/ban sara --ip", "admin"),
    ("/unban sara", "admin"),
    ("/bans", "moderator"),
    ("/bans sara", "moderator"),
    ("/deactivate sara", "admin"),
    ("/deactivate sara --delete-messages", "admin"),
    ("/reactivate sara", "admin"),
    ("/userblock sara john", "admin"),
    ("/userunblock sara john", "admin"),
    ("/blocked sara", "admin"),
    ("/cases sara", "moderator"),
    ("/case 1", "moderator"),
    ("/case 1 note seen", "moderator"),
    ("/case 1 reason spam", "moderator"),  # another moderator's case needs an admin: at run
    ("/case 1 void wrong", "admin"),
    ("/endcall call-123", "admin"),
    ("/endcall call-123 raid", "admin"),
    ("/user sara", "moderator"),
    ("/rename sara Sara K.", "admin"),
    ("/clearavatar sara", "admin"),
    ("/calls", "moderator"),
    ("/roster call-123", "moderator"),
    ("/roster call-123 sar", "moderator"),
    ("/queue", "moderator"),
    ("/report sara call-123 rude", "nobody"),
]


@pytest.mark.parametrize(("line", "role"), ROLES)
def test_role_needed(registry: Registry, line: str, role: str) -> None:
    command, _ = command_of(registry, line)
    needed = command.role_needed(parse(registry, line))
    assert needed.label == role
    assert needed >= command.min_role


def test_every_command_has_a_role_example(registry: Registry) -> None:
    assert {command_of(registry, line)[0].name for line, _ in ROLES} == set(registry.commands)


def test_the_least_role_each_command_can_be_used_with(registry: Registry) -> None:
    """What `/mod help` lists for a moderator: /ban is there, though long bans need an admin."""
    least = {command.name: command.min_role.label for command in registry}
    assert least == {
        "kick": "moderator",
        "block": "moderator",
        "unblock": "moderator",
        "mute": "moderator",
        "muteall": "admin",
        "screenshare": "admin",
        "grant": "moderator",
        "revoke": "moderator",
        "ban": "moderator",
        "unban": "admin",
        "bans": "moderator",
        "deactivate": "admin",
        "reactivate": "admin",
        "userblock": "admin",
        "userunblock": "admin",
        "blocked": "admin",
        "cases": "moderator",
        "case": "moderator",
        "endcall": "admin",
        "user": "moderator",
        "rename": "admin",
        "clearavatar": "admin",
        "calls": "moderator",
        "roster": "moderator",
        "queue": "moderator",
        "report": "nobody",
    }


def test_only_muteall_deactivate_and_endcall_ask_for_confirmation(registry: Registry) -> None:
    confirming = {command.name for command in registry if command.confirm}
    assert confirming == {"muteall", "deactivate", "endcall"}


def test_only_the_listings_change_nothing(registry: Registry) -> None:
    # /case's notes and amendments are kept in the case itself, not as new cases
    assert {command.name for command in registry if not command.writes} == {
        "bans",
        "blocked",
        "cases",
        "case",
        "user",
        "calls",
        "roster",
        "queue",  # lists alerts; their buttons record their own cases
        "report",  # a report is Stream's review item, not a case
    }


# --- plans ----------------------------------------------------------------------------------

# (line, plan summary, other plan fields to check)
PLANS: list[tuple[str, str, dict[str, Any]]] = [
    (
        "/kick sara call-123",
        "kick `sara` from `default:call-123`",
        {"target": "sara", "call": "default:call-123"},
    ),
    ("/kick sara call-123 --block", "kick `sara` from `default:call-123` and block them", {}),
    ("/block sara call-123", "block `sara` from `default:call-123`", {"target": "sara"}),
    ("/unblock sara call-123", "unblock `sara` on `default:call-123`", {"target": "sara"}),
    (
        "/mute sara,john call-123 video",
        "mute video of `sara`, `john` in `default:call-123`",
        {"target": "sara,john", "call": "default:call-123", "detail": "video"},
    ),
    (
        "/mute sara call-123 screenshare_audio audio",
        "mute screenshare audio, audio of `sara` in `default:call-123`",
        {},
    ),
    (
        "/muteall livestream:call-123",
        "mute audio of everyone in `livestream:call-123`",
        {"target": None, "call": "livestream:call-123", "detail": "audio"},
    ),
    (
        "/screenshare call-123 request",
        "set screen sharing in `default:call-123` to request",
        {"detail": "request"},
    ),
    (
        "/grant sara call-123 audio video",
        "let `sara` speak and share video in `default:call-123`",
        {"target": "sara", "detail": "send-audio, send-video"},
    ),
    (
        "/revoke sara call-123 screenshare",
        "stop `sara` from being able to share screen in `default:call-123`",
        {"detail": "screenshare"},
    ),
    ("/ban sara", "ban `sara` permanently", {"target": "sara", "reason": None}),
    (
        "/ban sara 1d12h spam",
        "ban `sara` for 1d 12h",
        {"detail": "for 1d 12h", "reason": "spam"},
    ),
    ("/ban sara 1h --ip", "ban `sara` by IP for 1h", {}),
    ("/ban sara --ip", "ban `sara` by IP permanently", {}),
    ("/ban sara 25h", "ban `sara` for 1d 1h", {}),
    ("/unban sara", "unban `sara`", {"target": "sara"}),
    ("/bans", "list active bans", {}),
    ("/bans sara", "list the bans of `sara`", {}),
    ("/deactivate sara", "deactivate `sara`", {"target": "sara"}),
    ("/deactivate sara --delete-messages", "deactivate `sara` and mark their messages deleted", {}),
    ("/reactivate sara", "reactivate `sara`", {"target": "sara"}),
    ("/reactivate sara --restore-messages", "reactivate `sara` and restore their messages", {}),
    ("/userblock sara john", "make `sara` block `john`", {"target": "john"}),
    ("/userunblock sara john", "make `sara` unblock `john`", {"target": "john"}),
    ("/blocked sara", "list the users `sara` blocks", {"target": "sara"}),
    ("/cases sara", "list the cases of `sara`", {"target": "sara"}),
    ("/cases by U0MODER01", "list the cases of <@U0MODER01>", {}),
    ("/case 4 reason spam", "change the reason of case #4", {"reason": "spam"}),
    ("/case 4 void oops", "void case #4", {"reason": "oops"}),
    # before the look-up (it adds how many are in the call, or the name being replaced)
    (
        "/endcall call-123 raid",
        "end `default:call-123` for everyone",
        {"target": None, "call": "default:call-123", "reason": "raid"},
    ),
    ("/user sara", "show the card of `sara`", {"target": "sara", "kind": None}),
    ("/rename sara Sara K.", "rename `sara` to `Sara K.`", {"target": "sara"}),
    ("/rename sara <b>`x`</b> &", "rename `sara` to `&lt;b&gt;x&lt;/b&gt; &amp;`", {}),
    ("/clearavatar sara", "clear the avatar of `sara`", {"target": "sara"}),
    ("/calls", "list live calls", {"target": None, "kind": None}),
    ("/roster call-123 sar", "show who is in `default:call-123`", {"call": CALL.cid, "kind": None}),
    ("/queue", "list open Stream alerts", {"target": None, "kind": None}),
    (
        "/report sara call-123 rude",
        "report `sara` in `default:call-123`",
        {"target": "sara", "kind": None},
    ),
]


@pytest.mark.parametrize(("line", "summary", "more"), PLANS)
def test_plan(registry: Registry, line: str, summary: str, more: dict[str, Any]) -> None:
    command, _ = command_of(registry, line)
    plan = command.plan(parse(registry, line))
    assert plan.summary == summary
    assert fields(plan, more) == more
