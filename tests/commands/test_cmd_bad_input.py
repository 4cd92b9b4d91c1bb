"""Bad input and Stream failures: one clear ephemeral sentence (plus the usage line for bad
input), no state change, never a traceback."""

from __future__ import annotations

import pytest

from bot.local.stack import ADMIN, MODERATOR, LocalStack

from .cmdtest import CALL, Outcome, confirm, requests_to, slash

LONG = "x" * 300

# category -> (command line, a fragment of the sentence, the usage line's command); each
# category runs on one stack, which keeps the whole set fast.
BAD_INPUT: dict[str, list[tuple[str, str, str]]] = {
    "missing arguments": [
        ("/kick", "some arguments are missing", "/kick"),
        ("/kick sara", "some arguments are missing", "/kick"),
        ("/mute sara", "some arguments are missing", "/mute"),
        ("/grant sara call-123", "some arguments are missing", "/grant"),
        ("/screenshare call-123", "some arguments are missing", "/screenshare"),
        ("/ban", "some arguments are missing", "/ban"),
        ("/unban", "some arguments are missing", "/unban"),
        ("/userblock sara", "some arguments are missing", "/userblock"),
        ("/muteall", "some arguments are missing", "/muteall"),
        ("/deactivate", "some arguments are missing", "/deactivate"),
    ],
    "extra arguments": [
        # /kick and /block take a trailing reason; /unblock takes none
        ("/unblock sara call-123 now", "unexpected extra words: `now`", "/unblock"),
        ("/unblock sa ra call-123", "unexpected extra words: `call-123`", "/unblock"),
        ("/unban sara john", "unexpected extra words: `john`", "/unban"),
        ("/bans sara john", "unexpected extra words: `john`", "/bans"),
        ("/screenshare call-123 on please", "unexpected extra words: `please`", "/screenshare"),
        ("/userblock sara john bob", "unexpected extra words: `bob`", "/userblock"),
        ("/blocked sara john", "unexpected extra words: `john`", "/blocked"),
    ],
    "malformed user and call ids": [
        ("/kick bad/id call-123", "`bad/id` is not a Stream user id", "/kick"),
        ("/kick sara call:with:colons", "`call:with` is not a call type", "/kick"),
        ("/kick sara Live:call-123", "`Live` is not a call type", "/kick"),
        ("/kick sara call.123", "`call.123` is not a call id", "/kick"),
        ("/kick sara default:", "`default:` is not a call id", "/kick"),
        (f"/kick {LONG} call-123", "is not a Stream user id", "/kick"),
        (f"/kick sara {LONG}", "is not a call id", "/kick"),
        ("/mute sara,b!d call-123", "`b!d` is not a Stream user id", "/mute"),
        ("/mute ,,, call-123", "name at least one user", "/mute"),
        ("/ban s<a>ra 1h", "`s&lt;a&gt;ra` is not a Stream user id", "/ban"),
        ("/userblock sara jo#hn", "`jo#hn` is not a Stream user id", "/userblock"),
    ],
    "bad durations": [
        ("/ban sara 0m", "`0m` is too short: a ban lasts at least 1 minute", "/ban"),
        ("/ban sara -1h", "`-1h` is not a duration", "/ban"),
        ("/ban sara 99999d", "`99999d` is longer than", "/ban"),
        ("/ban sara 366d", "`366d` is longer than", "/ban"),
        ("/ban sara 1x", "`1x` is not a duration", "/ban"),
        ("/ban sara 1h1d", "`1h1d` is not a duration", "/ban"),
        ("/ban sara 30s", "`30s` is not a duration", "/ban"),
        ("/ban sara 99999999999999999999m", "is longer than", "/ban"),
    ],
    "unknown permission, track and mode words": [
        ("/grant sara call-123 fly", "`fly` is not a permission", "/grant"),
        ("/revoke sara call-123 audio send-audio", "`send-audio` is not a permission", "/revoke"),
        ("/mute sara call-123 loud", "`loud` is not a track", "/mute"),
        ("/muteall call-123 all", "`all` is not a track", "/muteall"),
        ("/screenshare call-123 maybe", "`maybe` is not a mode", "/screenshare"),
    ],
    "unknown flags": [
        ("/kick sara call-123 --frob", "unknown option `--frob` (options: --block)", "/kick"),
        ("/block sara call-123 --block", "unknown option `--block` (options: none)", "/block"),
        ("/ban sara 1h --permanent", "unknown option `--permanent`", "/ban"),
        (
            "/deactivate sara --restore-messages",
            "unknown option `--restore-messages`",
            "/deactivate",
        ),
        ("/reactivate sara --delete-messages", "unknown option `--delete-messages`", "/reactivate"),
        ("/mod kick sara call-123 --force", "unknown option `--force`", "/kick"),
    ],
}


def _assert_one_sentence_and_usage(out: Outcome, line: str, fragment: str, command: str) -> None:
    assert fragment in out.reply, line
    problem, usage = out.reply.split("\n")
    assert problem.startswith(":warning: ") and problem.endswith("."), line
    assert usage.startswith(f"Usage: `{command} ") or usage == f"Usage: `{command}`", line
    assert usage.endswith("`"), line
    assert out.writes == [], f"{line}: bad input reached Stream"
    assert out.log == [], line
    assert len(out.reply) < 600, f"{line}: long input is not shortened"


@pytest.mark.parametrize("category", list(BAD_INPUT))
async def test_bad_input_gets_a_sentence_and_the_usage(stack: LocalStack, category: str) -> None:
    for line, fragment, command in BAD_INPUT[category]:
        # Without a trigger_id: `/ban` alone opens the form when Slack sends one.
        out = await slash(stack, line, ADMIN, trigger=False)
        _assert_one_sentence_and_usage(out, line, fragment, command)


async def test_bad_input_from_a_moderator_is_still_bad_input(stack: LocalStack) -> None:
    out = await slash(stack, "/ban sara 1x", MODERATOR)
    assert "`1x` is not a duration" in out.reply
    assert out.writes == []


@pytest.mark.parametrize("line", ["/mod frob", "/mod frob sara call-123", "/mod ``` x"])
async def test_unknown_command_word(stack: LocalStack, line: str) -> None:
    out = await slash(stack, line, ADMIN)

    assert out.reply.startswith(":warning: `")
    assert out.reply.endswith("is not a callmod command. `/mod help` lists the ones you can use.")
    assert out.reply.count("`") == 4  # the user's word cannot break out of its code span
    assert out.writes == [] and out.log == []


@pytest.mark.parametrize(
    ("line", "sentence"),
    [
        (
            "/kick nobody call-123",
            'Could not kick `nobody` from `default:call-123`: user "nobody" '
            "was not found. Nothing was changed.",
        ),
        ("/mute sara,nobody call-123", 'user "nobody" was not found'),
        ("/grant nobody call-123 audio", 'user "nobody" was not found'),
        ("/ban nobody 1h", 'Could not ban `nobody` for 1h: user "nobody" was not found.'),
        ("/unban nobody", 'Could not unban `nobody`: user "nobody" was not found.'),
        ("/userblock sara nobody", 'user "nobody" was not found'),
        ("/reactivate nobody", 'user "nobody" was not found'),
    ],
)
async def test_unknown_user_is_a_sentence(stack: LocalStack, line: str, sentence: str) -> None:
    out = await slash(stack, line, ADMIN)

    assert out.reply.startswith(":x: Could not ")
    assert sentence in out.reply
    assert out.reply.endswith("Nothing was changed.")
    assert out.reply.count("Nothing was changed") + out.reply.count("nothing was changed") == 1
    assert "nobody" not in stack.emulator.state.users
    assert len(out.log) == 1 and ":x: failed (nothing was changed)" in out.log[0]


async def test_unknown_user_on_a_read_is_a_sentence_without_audit(stack: LocalStack) -> None:
    out = await slash(stack, "/blocked nobody", ADMIN)
    assert out.reply == (
        ':x: Could not list the users `nobody` blocks: user "nobody" was not found. '
        "Nothing was changed."
    )
    assert out.log == []


@pytest.mark.parametrize(
    "line",
    [
        "/kick sara nocall",
        "/block sara livestream:call-123",
        "/mute sara nocall video",
        "/screenshare nocall on",
        "/revoke sara nocall audio",
    ],
)
async def test_unknown_call_is_a_sentence(stack: LocalStack, line: str) -> None:
    cid = line.split()[2] if line.startswith(("/kick", "/block", "/mute", "/revoke")) else "nocall"
    cid = cid if ":" in cid else f"default:{cid}"

    out = await slash(stack, line, ADMIN)

    assert f"call {cid} does not exist. Nothing was changed." in out.reply
    assert cid not in stack.emulator.state.calls
    assert len(out.log) == 1 and "failed" in out.log[0]


async def test_rate_limited_after_retries(stack: LocalStack) -> None:
    stack.emulator.faults.rate_limit(times=20, path="/kick")

    out = await slash(stack, "/kick sara call-123", ADMIN)

    assert out.reply == (
        ":x: Could not kick `sara` from `default:call-123`: Stream is rate limiting callmod; "
        "nothing was changed, try again in a minute."
    )
    assert len(requests_to(stack, "/kick")) > 1, "a 429 was not retried"
    assert "sara" in stack.emulator.state.calls[CALL].participants
    assert len(out.log) == 1 and "failed (nothing was changed)" in out.log[0]


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_server_errors_after_retries(stack: LocalStack, status: int) -> None:
    stack.emulator.faults.server_error(status=status, times=20, path="/mute_users")

    out = await slash(stack, "/mute sara call-123", ADMIN)

    assert out.reply.startswith(
        f":x: Could not mute audio of `sara` in `default:call-123`: Stream is having trouble "
        f"(HTTP {status})"
    )
    assert len(requests_to(stack, "/mute_users")) > 1, f"a {status} was not retried"
    assert len(out.log) == 1 and "failed" in out.log[0]
    assert stack.emulator.state.calls[CALL].muted == {}  # the emulator refused every attempt


async def test_internal_server_error_is_not_retried_and_may_have_applied(
    stack: LocalStack,
) -> None:
    stack.emulator.faults.server_error(status=500, times=20, path="/kick")

    out = await slash(stack, "/kick sara call-123", ADMIN)

    assert len(requests_to(stack, "/kick")) == 1
    assert "may or may not have taken effect" in out.reply
    assert out.reply.endswith(
        "It may have been applied before the answer was lost; check before retrying."
    )
    assert "Nothing was changed" not in out.reply
    assert "may have been applied" in out.log[0]


async def test_connection_dropped_after_apply_is_done_once(stack: LocalStack) -> None:
    stack.emulator.faults.drop_connection(after_apply=True, path="/mute_users")

    out = await slash(stack, "/mute sara call-123 video", ADMIN)

    assert len(requests_to(stack, "/mute_users")) == 2  # applied, answer lost, retried
    assert stack.emulator.state.calls[CALL].muted == {"sara": {"video"}}
    assert out.reply.startswith(":mute: Muted video of `sara`")
    assert out.log == [
        "<@U0ADMIN01> · mute video of `sara` in `default:call-123` · :white_check_mark: done"
        " · Case #1"
    ]


async def test_deactivate_retried_after_a_lost_answer_counts_as_done(stack: LocalStack) -> None:
    stack.emulator.faults.drop_connection(after_apply=True, path="/deactivate")
    asked = await slash(stack, "/deactivate sara", ADMIN)

    done = await confirm(stack, asked)

    # The retry meets "already deactivated", which is the state we wanted.
    assert len(requests_to(stack, "/users/sara/deactivate")) == 2
    assert stack.emulator.state.users["sara"].deactivated
    assert done.reply == ":zzz: `sara` is deactivated and can no longer connect.\n_Case #1_"
    assert done.log == ["<@U0ADMIN01> · deactivate `sara` · :white_check_mark: done · Case #1"]


async def test_ban_retried_after_a_lost_answer_is_announced_once(stack: LocalStack) -> None:
    stack.emulator.faults.drop_connection(after_apply=True, path="/moderation/ban")

    out = await slash(stack, "/ban john 1h", ADMIN)

    assert stack.emulator.state.active_ban("john") is not None
    assert out.reply.startswith(":hammer: `john` is banned for 1h")
    assert len(out.log) == 1, out.log


async def test_a_slash_command_whose_text_says_payload_is_still_a_command(
    stack: LocalStack,
) -> None:
    # Bolt's form parser takes any body containing "payload" for a button click (and then
    # routes nothing); callmod parses such a form as the slash command it is.
    out = await slash(stack, "/kick payload call-123")
    assert out.result.status == 200
    assert out.reply.startswith(":x: Could not kick `payload`")
