"""MOD_LOG_CHANNEL / MOD_REQUESTS_CHANNEL given as names are resolved to channel ids at start-up
(issue 12, item 3): Slack's `chat.update` takes only an id, so with a name no notification could
ever be edited. A channel that cannot be found, is archived or that the bot is not in is refused
with one line naming the variable, and `python -m bot serve` exits 2.

Also the fake Slack's `conversations.info` / `conversations.list`, in Slack's shapes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.local.fake_slack import FakeSlack
from bot.local.stack import BOT_TOKEN, LOG_CHANNEL, MODERATOR, REQUESTS_CHANNEL, LocalStack
from bot.runtime.channels import resolve_channels
from bot.settings import ConfigError, Settings
from bot.util.clock import ManualClock
from tests.runtime.serving import run_serve

MINUTE = 60.0


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN) as fake:
        yield fake


def settings(slack: FakeSlack, **values: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        slack_bot_token=values.pop("token", BOT_TOKEN),
        slack_signing_secret="signing-secret",
        slack_api_url=slack.api_url,
        **values,
    )


async def refusal(slack: FakeSlack, **values: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        await resolve_channels(settings(slack, **values))
    message = str(caught.value)
    assert "\n" not in message, message
    return message


# -- through the whole stack ---------------------------------------------------------------------


async def test_channel_names_become_ids_so_notifications_are_edited(clock: ManualClock) -> None:
    stack = LocalStack(clock=clock, mod_log_channel="#mod-log", mod_requests_channel="mod-requests")
    await stack.start()
    try:
        await stack.idle()
        assert stack.callmod is not None
        assert stack.callmod.settings.mod_log_channel == LOG_CHANNEL
        assert stack.callmod.settings.requests_channel == REQUESTS_CHANNEL

        # Bounded: with a name, the expiry's edit used to be retried for ever.
        async with asyncio.timeout(30):
            await stack.slash("/ban bob 30m spamming", MODERATOR)
            await stack.emulator.raise_permission_request(
                "default:call-123", "john", ["send-audio"]
            )
            await stack.emulator.raise_permission_request(
                "default:call-123", "alice", ["send-audio"]
            )
            await stack.idle()
            await clock.advance(31 * MINUTE)  # the ban expires: its notification is edited
            await stack.idle()

        [notification] = [
            m for m in stack.slack.messages_in(LOG_CHANNEL) if m.text.startswith(":hammer:")
        ]
        assert notification.history, "the ban notification was never edited"
        assert ":hourglass: The ban of `bob` has expired." in stack.log_lines()
        assert stack.slack.messages_in(REQUESTS_CHANNEL), "no permission request was posted"
        updates = stack.slack.calls_to("chat.update")
        assert updates and all(call.error is None for call in updates), [
            (call.args.get("channel"), call.error) for call in updates
        ]
        posts = stack.slack.calls_to("chat.postMessage")
        assert {call.args["channel"] for call in posts} <= {LOG_CHANNEL, REQUESTS_CHANNEL}
    finally:
        await stack.stop()


async def test_the_local_stack_ids_are_channels_the_bot_is_in(stack: LocalStack) -> None:
    assert stack.callmod is not None
    assert stack.callmod.settings.mod_log_channel == LOG_CHANNEL
    assert [c.args["channel"] for c in stack.slack.calls_to("conversations.info")] == [
        LOG_CHANNEL,
        REQUESTS_CHANNEL,
    ]


async def test_serve_refuses_a_channel_name_it_cannot_find(
    slack: FakeSlack, tmp_path: Path
) -> None:
    done = await run_serve(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": "signing-secret",
            "SLACK_API_URL": slack.api_url,
            "MOD_LOG_CHANNEL": "#mod-logs",
            "HOST": "127.0.0.1",
            "PORT": "1",  # never reached: the channel is refused first
        },
        tmp_path,
    )
    assert done.returncode == 2, done.stderr
    line = done.one_line()
    assert line.startswith("callmod: MOD_LOG_CHANNEL=#mod-logs: no channel named #mod-logs")
    assert slack.calls_to("conversations.list")


async def test_serve_refuses_a_channel_the_bot_is_not_in(slack: FakeSlack, tmp_path: Path) -> None:
    slack.channels.add("C0GENERAL", "general", member=False)
    done = await run_serve(
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": "signing-secret",
            "SLACK_API_URL": slack.api_url,
            "MOD_LOG_CHANNEL": "C0MODLOG",
            "MOD_REQUESTS_CHANNEL": "C0GENERAL",
            "HOST": "127.0.0.1",
            "PORT": "1",
        },
        tmp_path,
    )
    assert done.returncode == 2, done.stderr
    line = done.one_line()
    assert line.startswith("callmod: MOD_REQUESTS_CHANNEL=C0GENERAL: the bot is not in #general")


# -- each refusal --------------------------------------------------------------------------------


async def test_ids_and_names_resolve_to_ids(slack: FakeSlack) -> None:
    resolved = await resolve_channels(
        settings(slack, mod_log_channel="#mod-log", mod_requests_channel="C0MODREQ")
    )
    assert resolved.mod_log_channel == "C0MODLOG"
    assert resolved.mod_requests_channel == "C0MODREQ"
    assert resolved.slack_signing_secret is not None  # still a SecretStr after the copy
    assert resolved.slack_signing_secret.get_secret_value() == "signing-secret"
    only_log = await resolve_channels(settings(slack, mod_log_channel="mod-log"))
    assert only_log.requests_channel == "C0MODLOG"


async def test_a_name_on_a_late_page_is_found_by_paging(slack: FakeSlack) -> None:
    for n in range(450):
        slack.channels.add(f"C0FILL{n:04d}", f"filler-{n}")
    slack.channels.add("C0LATE", "late-room", private=True)

    resolved = await resolve_channels(settings(slack, mod_log_channel="#late-room"))

    assert resolved.mod_log_channel == "C0LATE"
    pages = slack.calls_to("conversations.list")
    assert len(pages) == 3
    assert "cursor" not in pages[0].args and pages[1].args["cursor"] != pages[2].args["cursor"]
    assert all(p.args["types"] == "public_channel,private_channel" for p in pages)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"mod_log_channel": "#nowhere"},
            "MOD_LOG_CHANNEL=#nowhere: no channel named #nowhere that the bot can see",
        ),
        (
            {"mod_log_channel": "C0NOSUCH"},
            "MOD_LOG_CHANNEL=C0NOSUCH: Slack knows no channel C0NOSUCH that the bot can see",
        ),
        (
            {"mod_log_channel": "C0MODLOG", "mod_requests_channel": "#secret"},
            "MOD_REQUESTS_CHANNEL=#secret: no channel named #secret",
        ),
        (
            {"mod_log_channel": "C0SECRET"},
            "MOD_LOG_CHANNEL=C0SECRET: Slack knows no channel C0SECRET",
        ),
        (
            {"mod_log_channel": "#general"},
            "MOD_LOG_CHANNEL=#general: the bot is not in #general (C0GENERAL): invite it",
        ),
        (
            {"mod_log_channel": "C0GENERAL"},
            "MOD_LOG_CHANNEL=C0GENERAL: the bot is not in #general (C0GENERAL)",
        ),
        (
            {"mod_log_channel": "#old-log"},
            "MOD_LOG_CHANNEL=#old-log: #old-log (C0OLDLOG) is archived",
        ),
        (
            {"mod_log_channel": "C0MODLOG", "token": "xoxb-not-the-token"},
            "SLACK_BOT_TOKEN: Slack refused the bot token (invalid_auth)",
        ),
    ],
)
async def test_unusable_channels_are_refused_with_one_line(
    slack: FakeSlack, values: dict[str, Any], expected: str
) -> None:
    slack.channels.add("C0GENERAL", "general", member=False)
    slack.channels.add("C0SECRET", "secret", member=False, private=True)
    slack.channels.add("C0OLDLOG", "old-log", archived=True)
    assert (await refusal(slack, **values)).startswith(expected)


async def test_slack_errors_at_start_up_are_one_line(slack: FakeSlack) -> None:
    slack.fail_next("conversations.info", error="missing_scope")
    message = await refusal(slack, mod_log_channel="C0MODLOG")
    assert message.startswith("MOD_LOG_CHANNEL=C0MODLOG: the Slack app lacks the scope")
    slack.fail_next("conversations.info", status=500, times=10)
    message = await refusal(slack, mod_log_channel="C0MODLOG")
    assert message.startswith("MOD_LOG_CHANNEL=C0MODLOG: Slack answered conversations.info")


# -- the fake's conversations.* ------------------------------------------------------------------


async def test_fake_conversations_info_in_slacks_shape(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    slack.channels.add("C0GENERAL", "general", member=False)
    slack.channels.add("C0SECRET", "secret", member=False, private=True)

    info = (await client.conversations_info(channel="C0MODLOG"))["channel"]
    assert info["id"] == "C0MODLOG" and info["name"] == "mod-log" and info["is_member"] is True
    assert info["is_channel"] is True and info["is_private"] is False
    assert info["is_archived"] is False and info["context_team_id"] == slack.team_id
    public = (await client.conversations_info(channel="C0GENERAL"))["channel"]
    assert public["is_member"] is False
    for hidden in ("C0SECRET", "C0NOSUCH", "#mod-log"):
        with pytest.raises(SlackApiError) as caught:
            await client.conversations_info(channel=hidden)
        assert caught.value.response["error"] == "channel_not_found"


async def test_fake_conversations_list_pages_and_hides_private_channels(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    slack.channels.add("C0SECRET", "secret", member=False, private=True)
    slack.channels.add("C0MINE", "mine", private=True)
    slack.channels.add("C0OLD", "old", archived=True)

    public = await client.conversations_list()  # default types: public_channel
    assert [c["name"] for c in public["channels"]] == ["mod-log", "mod-requests", "old"]
    assert public["response_metadata"]["next_cursor"] == ""

    names: list[str] = []
    cursor = None
    for _ in range(10):
        page = await client.conversations_list(
            types="public_channel,private_channel", limit=2, cursor=cursor, exclude_archived=True
        )
        assert len(page["channels"]) <= 2
        names += [c["name"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert names == ["mod-log", "mod-requests", "mine"]

    for bad, error in (
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
        ({"limit": 0}, "invalid_limit"),
        ({"types": "channels"}, "invalid_types"),
    ):
        with pytest.raises(SlackApiError) as caught:
            await client.conversations_list(**bad)
        assert caught.value.response["error"] == error


async def test_fake_chat_methods_take_names_as_slack_does(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    posted = await client.chat_postMessage(channel="#mod-log", text="hello")
    assert posted["channel"] == "C0MODLOG"  # Slack answers with the id
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel="#mod-log", ts=posted["ts"], text="edited")
    assert caught.value.response["error"] == "channel_not_found"  # chat.update needs the id
    await client.chat_update(channel="C0MODLOG", ts=posted["ts"], text="edited")
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="#no-such-room", text="hello")
    assert caught.value.response["error"] == "channel_not_found"


def test_the_manifest_asks_for_the_scopes_channel_lookup_needs() -> None:
    import yaml

    from bot.slack.manifest import manifest_yaml
    from commands import build_registry

    data = yaml.safe_load(manifest_yaml(build_registry()))
    assert {"channels:read", "groups:read"} <= set(data["oauth_config"]["scopes"]["bot"])
