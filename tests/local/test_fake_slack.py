"""FakeSlack answers like Slack for what callmod uses; SlackDriver's requests pass real Bolt."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from bot.local.fake_slack import ApiCall, FakeSlack, PostedMessage, ResponsePost, SlackEvent
from bot.local.slack_driver import SlackDriver

TOKEN = "xoxb-test-token-123"
SECRET = "test-signing-secret"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = FakeSlack(bot_token=TOKEN)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    web_client = AsyncWebClient(token=TOKEN, base_url=fake.api_url)
    yield web_client


def blocks(count: int) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": f"b{i}"}} for i in range(count)]


async def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


# ---- Web API -------------------------------------------------------------------------------


async def test_auth_test_answers_like_slack_and_records_the_call(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    answer = await client.auth_test()
    assert answer["ok"] is True
    assert answer["user_id"] == "UCALLMOD"
    assert answer["team_id"] == "T0CALLMOD"
    assert answer["bot_id"] == "B0CALLMOD"
    assert answer["is_enterprise_install"] is False
    assert fake.api_url.startswith("http://127.0.0.1:") and fake.api_url.endswith("/api/")
    assert fake.calls == [ApiCall("auth.test", {}, True, 200)]


async def test_post_message_as_json_with_blocks(fake: FakeSlack, client: AsyncWebClient) -> None:
    answer = await client.chat_postMessage(channel="C0LOG", text="kicked", blocks=blocks(2))
    assert answer["channel"] == "C0LOG"
    assert answer["ts"] == "1800000000.000100"
    assert answer["message"]["text"] == "kicked"
    assert answer["message"]["blocks"] == blocks(2)
    [message] = fake.messages_in("C0LOG")
    assert (message.ts, message.text, message.blocks) == (answer["ts"], "kicked", blocks(2))
    assert message.thread_ts is None and message.history == [] and not message.deleted
    assert fake.calls_to("chat.postMessage")[0].args["blocks"] == blocks(2)


async def test_post_message_as_form_decodes_blocks_and_ts_increases(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="C0LOG", text="one")
    second = await client.api_call(
        "chat.postMessage",
        data={"channel": "C0LOG", "blocks": json.dumps(blocks(1)), "thread_ts": first["ts"]},
    )
    assert float(second["ts"]) > float(first["ts"])
    message = fake.message("C0LOG", second["ts"])
    assert message.blocks == blocks(1)
    assert message.text == ""
    assert message.thread_ts == first["ts"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"text": "no channel"}, "channel_not_found"),
        ({"channel": "C0LOG"}, "no_text"),
        ({"channel": "C0LOG", "blocks": blocks(51)}, "invalid_blocks"),
    ],
)
async def test_post_message_errors(
    fake: FakeSlack, client: AsyncWebClient, args: dict[str, Any], error: str
) -> None:
    failure = await slack_error(client.api_call("chat.postMessage", json=args))
    assert failure.response["error"] == error
    assert failure.response.status_code == 200
    assert fake.messages == []
    assert fake.calls[-1].error == error


async def test_fifty_blocks_are_allowed(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C0LOG", text="many", blocks=blocks(50))
    assert len(fake.messages[0].blocks) == 50


async def test_update_keeps_history_and_delete_marks_deleted(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0LOG", text="v1", blocks=blocks(1))
    await client.chat_update(channel="C0LOG", ts=posted["ts"], text="v2", blocks=blocks(2))
    await client.chat_update(channel="C0LOG", ts=posted["ts"], text="v3")
    message = fake.message("C0LOG", posted["ts"])
    assert message.text == "v3" and message.blocks == []
    assert message.history == [
        {"text": "v1", "blocks": blocks(1)},
        {"text": "v2", "blocks": blocks(2)},
    ]
    await client.chat_delete(channel="C0LOG", ts=posted["ts"])
    assert message.deleted
    failure = await slack_error(client.chat_update(channel="C0LOG", ts=posted["ts"], text="x"))
    assert failure.response["error"] == "message_not_found"


async def test_update_unknown_or_ephemeral_message_is_not_found(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    failure = await slack_error(client.chat_update(channel="C0LOG", ts="1.000001", text="x"))
    assert failure.response["error"] == "message_not_found"
    ephemeral = await client.chat_postEphemeral(channel="C0MODS", user="U1", text="only you")
    [message] = fake.messages_in("C0MODS")
    assert message.ts == ephemeral["message_ts"] and message.ephemeral_user == "U1"
    failure = await slack_error(
        client.chat_update(channel="C0MODS", ts=ephemeral["message_ts"], text="x")
    )
    assert failure.response["error"] == "message_not_found"


async def test_users_and_usergroups(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.users["U1"] = "maria"
    fake.usergroups["oncall-mods"] = ["U1", "U2"]
    info = await client.users_info(user="U1")
    assert info["user"]["id"] == "U1"
    assert info["user"]["name"] == "maria"
    assert info["user"]["profile"]["display_name"] == "maria"
    missing = await slack_error(client.users_info(user="U404"))
    assert missing.response["error"] == "user_not_found"

    groups = await client.usergroups_list()
    assert [(g["id"], g["handle"]) for g in groups["usergroups"]] == [
        ("SONCALL-MODS", "oncall-mods")
    ]
    members = await client.usergroups_users_list(usergroup="SONCALL-MODS")
    assert members["users"] == ["U1", "U2"]
    unknown = await slack_error(client.usergroups_users_list(usergroup="SNOPE"))
    assert unknown.response["error"] == "no_such_subteam"


async def test_unknown_method(client: AsyncWebClient) -> None:
    failure = await slack_error(client.api_call("chat.scheduleLunch"))
    assert failure.response["error"] == "unknown_method"


async def test_wrong_token_is_invalid_auth_and_no_token_is_recorded(fake: FakeSlack) -> None:
    intruder = AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url)
    failure = await slack_error(intruder.chat_postMessage(channel="C0LOG", text="hi"))
    assert failure.response["error"] == "invalid_auth"
    assert fake.messages == []
    assert fake.calls[-1].token_ok is False
    # A token sent in the form body counts too, and is never kept.
    owner = AsyncWebClient(base_url=fake.api_url)
    await owner.api_call("auth.test", data={"token": TOKEN})
    assert fake.calls[-1].token_ok is True
    assert TOKEN not in repr(fake.calls) and "xoxb-wrong" not in repr(fake.calls)


async def test_rate_limit_is_retried_by_slack_sdk_handler(
    fake: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The handler sleeps Retry-After plus random() seconds; make the jitter zero.
    monkeypatch.setattr(builtin_async_handlers, "random", SimpleNamespace(random=lambda: 0.0))
    retrying = AsyncWebClient(
        token=TOKEN,
        base_url=fake.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.fail_next("chat.postMessage", status=429, retry_after=0)
    answer = await retrying.chat_postMessage(channel="C0LOG", text="hi")
    assert answer["ok"] is True
    assert [c.status for c in fake.calls_to("chat.postMessage")] == [429, 200]
    assert len(fake.messages) == 1


async def test_rate_limit_without_handler_fails_with_retry_after(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    failure = await slack_error(client.chat_postMessage(channel="C0LOG", text="hi"))
    assert failure.response.status_code == 429
    assert failure.response.headers["Retry-After"] == "7"
    assert failure.response["error"] == "ratelimited"
    await client.chat_postMessage(channel="C0LOG", text="hi")  # only the next one failed
    assert [c.status for c in fake.calls] == [429, 200]


async def test_server_error_is_retried_by_slack_sdk_handler(fake: FakeSlack) -> None:
    no_wait = FixedValueRetryIntervalCalculator(0.0)
    retrying = AsyncWebClient(
        token=TOKEN,
        base_url=fake.api_url,
        retry_handlers=[
            AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=no_wait)
        ],
    )
    fake.fail_next("users.info", status=500, times=2)
    fake.users["U1"] = "maria"
    answer = await retrying.users_info(user="U1")
    assert answer["user"]["name"] == "maria"
    assert [c.status for c in fake.calls_to("users.info")] == [500, 500, 200]


async def test_fail_next_with_error_is_a_method_error(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", error="channel_not_found")
    failure = await slack_error(client.chat_postMessage(channel="C0LOG", text="hi"))
    assert failure.response.status_code == 200
    assert failure.response["error"] == "channel_not_found"
    assert fake.messages == []


# ---- response_url ----------------------------------------------------------------------------


async def test_response_url_records_posts_and_refuses_the_sixth(fake: FakeSlack) -> None:
    url = fake.response_url("slash-1")
    assert url.endswith("/response/slash-1")
    async with aiohttp.ClientSession() as http:
        for n in range(5):
            reply = {"text": f"reply {n}", "response_type": "ephemeral"}
            async with http.post(url, json=reply) as r:
                assert (r.status, await r.text()) == (200, "ok")
        async with http.post(url, json={"text": "one too many"}) as refused:
            assert refused.status == 404
            assert (await refused.json())["error"] == "used_url"
    posts = fake.responses_for("slash-1")
    assert [p.text for p in posts] == [f"reply {n}" for n in range(5)] + ["one too many"]
    assert [p.status for p in posts] == [200] * 5 + [404]
    assert posts[0].response_type == "ephemeral" and not posts[0].replace_original


async def test_response_url_failure_injection_and_bad_bodies(fake: FakeSlack) -> None:
    url = fake.response_url()
    fake.fail_next("response_url", status=500)
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"text": "x"}) as failed:
            assert failed.status == 500
        async with http.post(url, json={"response_type": "ephemeral"}) as empty:
            assert empty.status == 400
        async with http.post(url, json={"text": "y", "replace_original": True}) as ok:
            assert ok.status == 200
    posts = fake.responses
    assert [p.status for p in posts] == [500, 400, 200]
    assert posts[-1].replace_original is True
    assert fake.response_url() != url  # fresh keys are unique


# ---- waiting and subscribing ---------------------------------------------------------------


async def test_wait_for_wakes_on_a_record(fake: FakeSlack, client: AsyncWebClient) -> None:
    waiter = asyncio.create_task(fake.wait_for(lambda: len(fake.messages) == 1))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    await client.chat_postMessage(channel="C0LOG", text="hi")
    await asyncio.wait_for(waiter, 1.0)


async def test_wait_for_times_out_with_a_description(fake: FakeSlack) -> None:
    with pytest.raises(TimeoutError, match=r"still false after 0.05s; 0 API calls"):
        await fake.wait_for(lambda: False, timeout=0.05)


async def test_subscribe_sees_every_record_until_unsubscribed(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    seen: list[SlackEvent] = []
    unsubscribe = fake.subscribe(seen.append)
    posted = await client.chat_postMessage(channel="C0LOG", text="v1")
    await client.chat_update(channel="C0LOG", ts=posted["ts"], text="v2")
    url = fake.response_url("k")
    async with aiohttp.ClientSession() as http, http.post(url, json={"text": "r"}) as r:
        assert r.status == 200
    unsubscribe()
    await client.auth_test()
    kinds = [type(event).__name__ for event in seen]
    assert kinds == ["PostedMessage", "ApiCall", "PostedMessage", "ApiCall", "ResponsePost"]
    assert isinstance(seen[0], PostedMessage) and isinstance(seen[4], ResponsePost)
    assert len(fake.calls) == 3


# ---- SlackDriver against a real Bolt app ---------------------------------------------------


@dataclass
class BoltHarness:
    events_url: str
    clicks: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def bolt(fake: FakeSlack) -> AsyncIterator[BoltHarness]:
    app = AsyncApp(
        client=AsyncWebClient(token=TOKEN, base_url=fake.api_url), signing_secret=SECRET
    )
    harness = BoltHarness(events_url="")

    @app.command("/echo")
    async def echo(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(command["text"])

    @app.action("approve")
    async def approve(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        harness.clicks.append(body)
        await respond(
            text=f"{action['action_id']}|{action['value']}|{body['user']['id']}",
            replace_original=True,
        )

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    server = web.Application()
    server.router.add_post("/slack/events", events)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    harness.events_url = f"http://{host}:{port}/slack/events"
    yield harness
    await runner.cleanup()


@pytest.fixture
async def driver(fake: FakeSlack, bolt: BoltHarness) -> AsyncIterator[SlackDriver]:
    slack = SlackDriver(bolt.events_url, SECRET, fake)
    yield slack
    await slack.close()


async def test_slash_is_acked_and_respond_reaches_the_response_url(
    fake: FakeSlack, driver: SlackDriver
) -> None:
    result = await driver.slash("/echo", "hello <world> & more", user_id="U1")
    assert result.status == 200
    await fake.wait_for(lambda: bool(fake.responses_for(result.response_key)))
    [reply] = fake.responses_for(result.response_key)
    # Slack sends typed text with & < > as entities; the echo app sends it back as it came.
    assert reply.text == "hello &lt;world&gt; &amp; more"
    assert [c.token_ok for c in fake.calls_to("auth.test")] == [True]


async def test_wrong_secret_is_refused_before_bolt_calls_slack(
    fake: FakeSlack, bolt: BoltHarness
) -> None:
    forger = SlackDriver(bolt.events_url, "not-the-secret", fake)
    try:
        result = await forger.slash("/echo", "hi", user_id="U1")
    finally:
        await forger.close()
    assert result.status == 401
    assert fake.calls == [] and fake.responses == []


async def test_stale_tampered_or_wrong_version_requests_are_refused(
    fake: FakeSlack, driver: SlackDriver
) -> None:
    body = "command=%2Fecho&text=hi&user_id=U1"
    form = "application/x-www-form-urlencoded"
    stale = int(time.time()) - 6 * 60
    assert (await driver.post_signed(body, content_type=form, timestamp=stale))[0] == 401
    now = int(time.time())
    tampered = driver.sign(body, now)
    status, _ = await driver.post_signed(
        body.replace("hi", "ban"), content_type=form, timestamp=now, signature=tampered
    )
    assert status == 401
    assert (await driver.post_signed(body, content_type=form, version="v1"))[0] == 401
    assert fake.calls == []


async def test_sign_matches_slacks_scheme(driver: SlackDriver) -> None:
    expected = hmac.new(SECRET.encode(), b"v0:1531420618:a=b", hashlib.sha256).hexdigest()
    assert driver.sign("a=b", 1531420618) == "v0=" + expected


async def test_click_in_an_ephemeral_reply_reaches_the_action_handler(
    fake: FakeSlack, bolt: BoltHarness, driver: SlackDriver
) -> None:
    slash = await driver.slash("/echo", "confirm?", user_id="U1")
    await fake.wait_for(lambda: bool(fake.responses_for(slash.response_key)))
    click = await driver.click(
        action_id="approve", value="kick:sara", user_id="U2", response_key=slash.response_key
    )
    assert click.status == 200
    await fake.wait_for(lambda: len(fake.responses_for(slash.response_key)) == 2)
    assert fake.responses_for(slash.response_key)[-1].text == "approve|kick:sara|U2"
    [body] = bolt.clicks
    assert body["container"]["is_ephemeral"] is True
    assert "message" not in body
    assert body["response_url"] == fake.response_url(slash.response_key)


async def test_click_on_a_channel_message_can_replace_it(
    fake: FakeSlack, bolt: BoltHarness, driver: SlackDriver, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C0LOG", text="approve?", blocks=blocks(1))
    message = fake.message("C0LOG", posted["ts"])
    click = await driver.click(action_id="approve", value="req-7", user_id="U3", message=message)
    assert click.status == 200
    await fake.wait_for(lambda: message.text == "approve|req-7|U3")
    assert message.history == [{"text": "approve?", "blocks": blocks(1)}]
    [body] = bolt.clicks
    assert body["type"] == "block_actions"
    assert body["user"]["id"] == "U3"
    assert body["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C0LOG",
        "is_ephemeral": False,
    }
    assert body["message"]["ts"] == posted["ts"] and body["message"]["blocks"] == blocks(1)
    assert body["actions"][0]["action_id"] == "approve"
    assert body["actions"][0]["value"] == "req-7"


# ---- Block Kit limits ----------------------------------------------------------------------


def button_blocks(value: str) -> list[dict[str, Any]]:
    button = {
        "type": "button",
        "action_id": "a",
        "text": {"type": "plain_text", "text": "Confirm"},
        "value": value,
    }
    return [blocks(1)[0], {"type": "actions", "elements": [button]}]


async def test_a_button_value_over_2000_characters_is_invalid_blocks(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel="C0LOG", text="ok", blocks=button_blocks("v" * 2000))
    failure = await slack_error(
        client.chat_postMessage(channel="C0LOG", text="long", blocks=button_blocks("v" * 2001))
    )

    assert failure.response["error"] == "invalid_blocks"
    assert failure.response["errors"] == [
        "must be less than 2001 characters [json-pointer:/blocks/1/elements/0/value]"
    ]
    assert [m.text for m in fake.messages] == ["ok"]


async def test_a_response_url_post_with_a_too_long_button_value_is_refused(
    fake: FakeSlack,
) -> None:
    url = fake.response_url()
    async with aiohttp.ClientSession() as http:
        body = {"text": "long", "blocks": button_blocks("v" * 2001)}
        async with http.post(url, json=body) as refused:
            assert refused.status == 400
            assert (await refused.json())["error"] == "invalid_blocks"
        body = {"text": "fits", "blocks": button_blocks("v" * 2000)}
        async with http.post(url, json=body) as accepted:
            assert accepted.status == 200
    assert [(p.text, p.status) for p in fake.responses] == [("long", 400), ("fits", 200)]
