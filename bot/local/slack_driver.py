"""Plays Slack's side of the Events endpoint: exact slash-command and block_actions bodies, signed.

Timestamps are real `time.time()` because Bolt verifies them against the real clock.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bot.local.fake_slack import FakeSlack, OpenedView, PostedMessage

FORM = "application/x-www-form-urlencoded"
Payload = dict[str, Any]
API_APP_ID = "A0CALLMOD"
TEAM_DOMAIN = "callmod-test"
# Slack's legacy verification token; Bolt ignores it, Slack still sends it.
VERIFICATION_TOKEN = "legacy-verification-token"


@dataclass(frozen=True)
class SlashResult:
    status: int
    body: str  # the ack body
    response_key: str  # look replies up with fake.responses_for(response_key)


@dataclass(frozen=True)
class ClickResult:
    status: int
    body: str
    response_key: str
    payload: dict[str, Any]  # the block_actions payload as sent


class SlackDriver:
    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        fake: FakeSlack,
        *,
        team_id: str = "T0CALLMOD",
        http: aiohttp.ClientSession | None = None,
    ) -> None:
        self.events_url = events_url
        self.fake = fake
        self.team_id = team_id
        self._verifier = SignatureVerifier(signing_secret)
        self._signing_secret = signing_secret
        self._http = http
        self._owns_http = http is None
        self._trigger_numbers = itertools.count(1)

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.close()
        self._http = None

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def slash(
        self,
        command: str,
        text: str,
        *,
        user_id: str,
        user_name: str = "maria",
        channel_id: str = "C0MODS",
        channel_name: str | None = None,
        trigger: bool = True,
    ) -> SlashResult:
        """Type `command text` in Slack: the text is sent escaped as Slack escapes it.
        `trigger=False` leaves the trigger_id out (the typed path: no form can open)."""
        fields, key = self.slash_payload(
            command,
            text,
            user_id=user_id,
            user_name=user_name,
            channel_id=channel_id,
            channel_name=channel_name,
            trigger=trigger,
        )
        status, body = await self.post_signed(urlencode(fields), content_type=FORM)
        return SlashResult(status=status, body=body, response_key=key)

    def slash_payload(
        self,
        command: str,
        text: str,
        *,
        user_id: str,
        user_name: str = "maria",
        channel_id: str = "C0MODS",
        channel_name: str | None = None,
        trigger: bool = True,
    ) -> tuple[dict[str, str], str]:
        """A slash command's fields as Slack sends them (a signed form over HTTP, the envelope's
        payload over Socket Mode), and the key of its response_url.

        Slack sends what the user typed with `&`, `<` and `>` turned into `&amp;`, `&lt;` and
        `&gt;` (with `should_escape: false`, nothing else is rewritten)."""
        key = self.fake.new_response_key()
        fields = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name or _channel_name(channel_id),
            "user_id": user_id,
            "user_name": user_name,
            "command": command if command.startswith("/") else "/" + command,
            "text": slack_escape(text),
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.fake.response_url(key),
        }
        if trigger:  # registered with the fake Slack: views.open takes it for 3 s
            fields["trigger_id"] = self._trigger_id(user_id)
        return fields, key

    async def click(
        self,
        *,
        action_id: str,
        value: str,
        user_id: str,
        user_name: str = "maria",
        message: PostedMessage | None = None,
        response_key: str | None = None,
        block_id: str = "b",
        channel_id: str = "C0MODS",
        text: str = "",
        element: str = "button",
        trigger: bool = True,
    ) -> ClickResult:
        """Click a button: on a channel `message`, or inside a response_url reply (`response_key`,
        no message), which Slack shows as an ephemeral message. `element="overflow"` picks the
        option `value` (labelled `text`) of an overflow menu instead."""
        payload, key = self.click_payload(
            action_id=action_id,
            value=value,
            user_id=user_id,
            user_name=user_name,
            message=message,
            response_key=response_key,
            block_id=block_id,
            channel_id=channel_id,
            text=text,
            element=element,
            trigger=trigger,
        )
        body = urlencode({"payload": json.dumps(payload)})
        status, answer = await self.post_signed(body, content_type=FORM)
        return ClickResult(status=status, body=answer, response_key=key, payload=payload)

    def click_payload(
        self,
        *,
        action_id: str,
        value: str,
        user_id: str,
        user_name: str = "maria",
        message: PostedMessage | None = None,
        response_key: str | None = None,
        block_id: str = "b",
        channel_id: str = "C0MODS",
        text: str = "",
        element: str = "button",
        trigger: bool = True,
    ) -> tuple[dict[str, Any], str]:
        """A block_actions payload as Slack sends it (button values come back exactly as posted),
        and the key of its response_url."""
        key = response_key or self.fake.new_response_key()
        response_url = self.fake.response_url(key, message=message)
        ephemeral = message is None
        if message is not None:
            channel_id = message.channel
        now = time.time()
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": user_name,
                "name": user_name,
                "team_id": self.team_id,
            },
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {
                "type": "message",
                "message_ts": message.ts if message is not None else self.fake.new_ts(),
                "channel_id": channel_id,
                "is_ephemeral": ephemeral,
            },
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": _channel_name(channel_id)},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [_action(element, action_id, block_id, value, text, now)],
        }
        if trigger:
            payload["trigger_id"] = self._trigger_id(user_id)
        if message is not None:
            # Slack leaves `message` out of payloads from ephemeral messages.
            payload["message"] = self._message_shape(message)
        return payload, key

    async def post_signed(
        self,
        body: str,
        *,
        content_type: str,
        timestamp: int | None = None,
        signature: str | None = None,
        version: str = "v0",
    ) -> tuple[int, str]:
        """POST `body` to the events URL as Slack would; override any part to forge a request."""
        if timestamp is None:
            timestamp = int(time.time())
        if signature is None:
            signature = self._sign_version(body, timestamp, version)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": signature,
        }
        async with self._session().post(
            self.events_url, data=body.encode(), headers=headers
        ) as response:
            return response.status, await response.text()

    def sign(self, body: str, timestamp: int) -> str:
        signature = self._verifier.generate_signature(timestamp=str(timestamp), body=body)
        if signature is None:  # slack_sdk returns None only when given no secret
            raise ValueError("cannot sign without a signing secret")
        return signature

    def _sign_version(self, body: str, timestamp: int, version: str) -> str:
        if version == "v0":
            return self.sign(body, timestamp)
        base = f"{version}:{timestamp}:{body}".encode()
        digest = hmac.new(self._signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return f"{version}={digest}"

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    def _trigger_id(self, user_id: str | None = None) -> str:
        """A new trigger_id, registered with the fake Slack (views.open takes it for 3 s)."""
        trigger_id = f"{next(self._trigger_numbers)}.{int(time.time())}.{secrets.token_hex(16)}"
        self.fake.register_trigger(trigger_id, user_id)
        return trigger_id

    # ---- modals ----------------------------------------------------------------------------

    def _user_shape(self, user_id: str, user_name: str) -> dict[str, Any]:
        return {"id": user_id, "username": user_name, "name": user_name, "team_id": self.team_id}

    def _view_payload_shape(
        self, opened: OpenedView, values: dict[str, dict[str, dict[str, Any]]]
    ) -> dict[str, Any]:
        """`view` as Slack sends it back in view_submission and block_suggestion payloads."""
        return {
            **opened.view,
            "id": opened.id,
            "team_id": self.team_id,
            "state": {"values": values},
            "hash": opened.hash,
            "root_view_id": opened.id,
            "previous_view_id": None,
            "app_id": API_APP_ID,
            "bot_id": self.fake.bot_id,
        }

    async def submit_view(
        self,
        view_id: str,
        values: dict[str, dict[str, dict[str, Any]]],
        *,
        user_id: str,
        user_name: str = "maria",
    ) -> tuple[int, dict[str, Any] | None]:
        """Press a modal's submit button: a signed view_submission whose
        `view.state.values[block_id][action_id]` hold `values`. Returns the HTTP status and the
        JSON answer (`{"response_action": "errors", ...}`), or None for an empty ack."""
        opened = self.fake.view(view_id)
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "user": self._user_shape(user_id, user_name),
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self._trigger_id(user_id),
            "view": self._view_payload_shape(opened, values),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        body = urlencode({"payload": json.dumps(payload)})
        status, answer = await self.post_signed(body, content_type=FORM)
        return status, _json_or_none(answer)

    async def suggest(
        self,
        view_id: str,
        *,
        action_id: str,
        block_id: str,
        value: str,
        user_id: str,
        user_name: str = "maria",
    ) -> tuple[int, list[dict[str, Any]]]:
        """Type `value` into a modal's external select: a signed block_suggestion payload to the
        options URL. Returns the HTTP status and the options callmod answered."""
        opened = self.fake.view(view_id)
        payload = {
            "type": "block_suggestion",
            "user": self._user_shape(user_id, user_name),
            "container": {"type": "view", "view_id": view_id},
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": self._view_payload_shape(opened, {}),
        }
        body = urlencode({"payload": json.dumps(payload)})
        status, answer = await self.post_signed(body, content_type=FORM)
        decoded = _json_or_none(answer) or {}
        options = decoded.get("options")
        return status, options if isinstance(options, list) else []

    # ---- shortcuts, the Home tab, fields changed in a modal (issue 14) ---------------------

    def _shortcut_base(self, kind: str, callback_id: str, user_id: str, user_name: str) -> Payload:
        return {
            "type": kind,
            "token": VERIFICATION_TOKEN,
            "action_ts": f"{time.time():.6f}",
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "user": {**self._user_shape(user_id, user_name)},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(user_id),
        }

    async def shortcut(
        self, callback_id: str, *, user_id: str, user_name: str = "maria"
    ) -> tuple[int, str]:
        """Pick a global shortcut from Slack's shortcuts menu: a signed `shortcut` payload
        (no channel, no response_url) with a trigger_id good for 3 s."""
        payload = self._shortcut_base("shortcut", callback_id, user_id, user_name)
        return await self.post_signed(
            urlencode({"payload": json.dumps(payload)}), content_type=FORM
        )

    async def message_shortcut(
        self,
        callback_id: str,
        *,
        user_id: str,
        user_name: str = "maria",
        message: PostedMessage | None = None,
        other: dict[str, Any] | None = None,
        channel_id: str = "C0MODS",
    ) -> tuple[int, str, str]:
        """Pick a message shortcut on `message` (one callmod posted, with its metadata) or on
        `other` (someone else's message, as Slack shapes it): a signed `message_action`
        payload. Returns the HTTP status, the ack body and the key of its response_url."""
        payload = self._shortcut_base("message_action", callback_id, user_id, user_name)
        key = self.fake.new_response_key()
        if message is not None:
            shaped = self._message_shape(message)
            shaped["app_id"] = API_APP_ID
            if message.metadata is not None:
                shaped["metadata"] = message.metadata
            channel_id = message.channel
        else:
            shaped = dict(other or {"type": "message", "user": "U0SOMEONE", "text": "hi"})
            shaped.setdefault("ts", self.fake.new_ts())
        payload.update(
            channel={"id": channel_id, "name": _channel_name(channel_id)},
            message_ts=shaped["ts"],
            message=shaped,
            response_url=self.fake.response_url(key),
        )
        status, body = await self.post_signed(
            urlencode({"payload": json.dumps(payload)}), content_type=FORM
        )
        return status, body, key

    async def home_opened(self, user_id: str, *, tab: str = "home") -> tuple[int, str]:
        """The user opens the app's Home tab: a signed Events API `event_callback` carrying
        `app_home_opened` (JSON, as Slack delivers events)."""
        now = time.time()
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": f"D0{user_id[1:]}"[:11],
            "tab": tab,
            "event_ts": f"{now:.6f}",
        }
        home = self.fake.homes.get(user_id)
        if home is not None and tab == "home":
            event["view"] = {**home.view, "id": home.id, "hash": home.hash}
        body = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": API_APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.fake.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return await self.post_signed(json.dumps(body), content_type="application/json")

    async def home_click(
        self, *, action_id: str, value: str, user_id: str, user_name: str = "maria"
    ) -> tuple[int, str]:
        """Click a button on the user's Home tab: block_actions from a `home` view, which
        carries no response_url (answers go elsewhere)."""
        home = self.fake.homes[user_id]
        now = time.time()
        payload = {
            "type": "block_actions",
            "user": self._user_shape(user_id, user_name),
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": home.id},
            "trigger_id": self._trigger_id(user_id),
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": {**home.view, "id": home.id, "hash": home.hash, "team_id": self.team_id},
            "actions": [_action("button", action_id, "b", value, "", now)],
        }
        return await self.post_signed(
            urlencode({"payload": json.dumps(payload)}), content_type=FORM
        )

    async def pick_in_view(
        self,
        view_id: str,
        values: dict[str, dict[str, dict[str, Any]]],
        *,
        block_id: str,
        action_id: str,
        user_id: str,
        user_name: str = "maria",
    ) -> tuple[int, str]:
        """Change a field of a modal whose input block has `dispatch_action`: block_actions
        with the view's current state (`values`, the changed field among them)."""
        opened = self.fake.view(view_id)
        changed = dict(values.get(block_id, {}).get(action_id) or {})
        action = {
            "action_id": action_id,
            "block_id": block_id,
            "action_ts": f"{time.time():.6f}",
            **changed,
        }
        payload = {
            "type": "block_actions",
            "user": self._user_shape(user_id, user_name),
            "api_app_id": API_APP_ID,
            "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": self._trigger_id(user_id),
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": self._view_payload_shape(opened, values),
            "actions": [action],
        }
        return await self.post_signed(
            urlencode({"payload": json.dumps(payload)}), content_type=FORM
        )

    def _message_shape(self, message: PostedMessage) -> dict[str, Any]:
        shaped: dict[str, Any] = {
            "type": "message",
            "user": self.fake.bot_user_id,
            "bot_id": self.fake.bot_id,
            "text": message.text,
            "ts": message.ts,
            "blocks": message.blocks,
        }
        if message.thread_ts:
            shaped["thread_ts"] = message.thread_ts
        return shaped


def _action(
    element: str, action_id: str, block_id: str, value: str, text: str, now: float
) -> dict[str, Any]:
    """The `actions[0]` of a block_actions payload: a button carries its `value`, an overflow
    menu the option picked as `selected_option`."""
    label = {"type": "plain_text", "text": text or value, "emoji": True}
    action: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "type": element}
    if element == "overflow":
        action["selected_option"] = {"text": label, "value": value}
    else:
        action.update(text=label, value=value)
    action["action_ts"] = f"{now:.6f}"
    return action


def _json_or_none(text: str) -> dict[str, Any] | None:
    try:
        decoded = json.loads(text) if text.strip() else None
    except ValueError:
        return None
    return decoded if isinstance(decoded, dict) else None


def slack_escape(text: str) -> str:
    """What Slack does to typed text before sending it to an app: `&`, `<` and `>` become
    entities (in that order, so an `&` the user typed is not confused with one Slack added)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _channel_name(channel_id: str) -> str:
    if channel_id.startswith("D"):
        return "directmessage"
    return channel_id.lstrip("#").lower()
