"""/rename and /clearavatar end to end: the emulator's user changes (PATCH /api/v2/users), the
case keeps the old value and /case n shows it, names are escaped everywhere; bad input, an
unknown user and a moderator change nothing."""

from __future__ import annotations

import pytest

from bot.cases import Kind
from bot.local.stack import MODERATOR, LocalStack

from .cmdtest import slash

IMAGE = "https://img.example/sara.png?a=1&b=<2>"


async def no_cases(stack: LocalStack) -> bool:
    assert stack.store is not None
    return await stack.store.get(1) is None


async def test_rename_keeps_the_old_name_in_the_case(stack: LocalStack) -> None:
    out = await slash(stack, "/rename @sara Sara <!channel> & *co*")

    assert stack.emulator.state.users["sara"].name == "Sara <!channel> & *co*"
    assert out.reply == (
        ":label: `sara` is now named `Sara &lt;!channel&gt; &amp; *co*` (was `Sara`). People "
        "already in a call may see the old name until they rejoin.\n_Case #1_"
    )
    assert out.log == [
        "<@U0ADMIN01> · rename `sara` to `Sara &lt;!channel&gt; &amp; *co*` (was `Sara`) · "
        ":white_check_mark: done · Case #1"
    ]
    [write] = out.writes
    assert (write.method, write.path) == ("PATCH", "/api/v2/users")
    assert write.body == {"users": [{"id": "sara", "set": {"name": "Sara <!channel> & *co*"}}]}
    assert stack.store is not None
    case = await stack.store.get(1)
    assert case is not None and case.kind is Kind.RENAME and case.target_user_id == "sara"

    shown = await slash(stack, "/case 1")
    assert "What: rename `sara` to `Sara &lt;!channel&gt; &amp; *co*` (was `Sara`)" in shown.reply
    history = await slash(stack, "/cases sara")
    assert "1 rename" in history.reply and "(was `Sara`)" in history.reply


async def test_a_long_abusive_old_name_is_kept_escaped_and_cut(stack: LocalStack) -> None:
    stack.emulator.state.users["sara"].name = "<!here> `" + "x" * 1000

    out = await slash(stack, "/rename sara user-1234")

    assert stack.emulator.state.users["sara"].name == "user-1234"
    shown = await slash(stack, "/case 1")
    what = next(line for line in shown.reply.splitlines() if line.startswith("What: "))
    assert what.startswith("What: rename `sara` to `user-1234` (was `&lt;!here&gt; xxx")
    assert what.endswith("…`)")
    assert len(what) < 360
    assert "<!here>" not in out.reply + out.log[0] + shown.reply


async def test_a_user_without_a_name(stack: LocalStack) -> None:
    stack.emulator.state.add_user("carol")

    out = await slash(stack, "/rename carol Carol")

    assert out.log[0].startswith("<@U0ADMIN01> · rename `carol` to `Carol` (was no name) · ")


async def test_the_same_name_changes_nothing(stack: LocalStack) -> None:
    out = await slash(stack, "/rename sara Sara")

    assert out.reply == "`sara` is already named `Sara`; nothing was changed."
    assert out.writes == [] and out.log == [] and await no_cases(stack)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("/rename sara", "say what the new name is"),
        ("/rename sara    ", "say what the new name is"),
        ("/rename sara " + "n" * 101, "the new name is longer than 100 characters"),
        ("/rename sara " + "n" * 200, "the new name is longer than 100 characters"),
        ("/rename nobody Sara", 'user "nobody" was not found'),
    ],
)
async def test_bad_rename_is_a_sentence_and_the_usage(
    stack: LocalStack, line: str, problem: str
) -> None:
    out = await slash(stack, line)

    assert out.reply == (f":warning: {problem}.\nUsage: `/rename &lt;user&gt; &lt;new name&gt;`")
    assert out.writes == [] and out.log == [] and await no_cases(stack)
    assert stack.emulator.state.users["sara"].name == "Sara"


async def test_a_name_of_exactly_the_limit_is_taken(stack: LocalStack) -> None:
    await slash(stack, "/rename sara " + "n" * 100)
    assert stack.emulator.state.users["sara"].name == "n" * 100


async def test_clearavatar_keeps_the_old_image_in_the_case(stack: LocalStack) -> None:
    stack.emulator.state.users["sara"].image = IMAGE

    out = await slash(stack, "/clearavatar sara")

    assert stack.emulator.state.users["sara"].image is None
    assert out.reply == ":frame_with_picture: The avatar of `sara` is cleared.\n_Case #1_"
    shown_image = "`https://img.example/sara.png?a=1&amp;b=&lt;2&gt;`"
    assert out.log == [
        f"<@U0ADMIN01> · clear the avatar of `sara` (was {shown_image}) · "
        ":white_check_mark: done · Case #1"
    ]
    [write] = out.writes
    assert write.body == {"users": [{"id": "sara", "unset": ["image"]}]}
    shown = await slash(stack, "/case 1")
    assert f"What: clear the avatar of `sara` (was {shown_image})" in shown.reply
    assert "*Case #1* · avatar cleared" in shown.reply


async def test_clearavatar_without_an_avatar_changes_nothing(stack: LocalStack) -> None:
    out = await slash(stack, "/clearavatar sara")

    assert out.reply == "`sara` has no avatar; nothing was changed."
    assert out.writes == [] and out.log == [] and await no_cases(stack)


async def test_clearavatar_of_an_unknown_user(stack: LocalStack) -> None:
    out = await slash(stack, "/clearavatar nobody")

    assert out.reply == ':warning: user "nobody" was not found.\nUsage: `/clearavatar &lt;user&gt;`'
    assert out.writes == [] and await no_cases(stack)


@pytest.mark.parametrize("line", ["/rename sara Bob", "/clearavatar sara"])
async def test_a_moderator_is_denied(stack: LocalStack, line: str) -> None:
    stack.emulator.state.users["sara"].image = IMAGE

    out = await slash(stack, line, MODERATOR)

    command = line.split()[0]
    assert out.reply == (
        f":lock: You need the *admin* role to use `{command}`; you have the moderator role. "
        "Nothing was sent to Stream."
    )
    user = stack.emulator.state.users["sara"]
    assert (user.name, user.image) == ("Sara", IMAGE)
    assert out.writes == [] and await no_cases(stack)


async def test_stream_failing_before_the_rename_records_nothing(stack: LocalStack) -> None:
    stack.emulator.faults.server_error(status=503, times=20, path="/api/v2/users", method="GET")

    out = await slash(stack, "/rename sara Bob")

    assert out.reply == (
        ":x: Could not rename `sara` to `Bob`: Stream is having trouble (HTTP 503). "
        "Nothing was changed."
    )
    assert stack.emulator.state.users["sara"].name == "Sara"
    assert out.writes == [] and out.log == [] and await no_cases(stack)
