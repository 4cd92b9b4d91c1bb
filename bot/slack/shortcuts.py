"""Shortcuts (issue 14): "Moderate…" on any message and "Moderate a call…" from the shortcuts
menu, both opening the action form (bot/slack/action_form.py) on the fast path.

A message's author is a Slack profile, not a Stream user, so "Moderate…" fills the form only
from callmod's own messages: their `callmod_case` metadata (user, call, case; see
bot/slack/poster.py), or, when Slack left the metadata out, the case the store links to that
message (`CaseStore.find_by_message`). Any other message opens the form empty. Metadata on a
message callmod did not post (another app's, checked by app or bot id) is not trusted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import CaseStoreError
from bot.core.dispatch import Dispatcher
from bot.core.model import Actor, Reply, Role
from bot.core.parsing import UsageError, parse_call, parse_user
from bot.slack.action_form import ActionForms, FormState
from bot.slack.poster import METADATA_EVENT

log = logging.getLogger("callmod.shortcuts")

GLOBAL_SHORTCUT = "callmod_moderate_call"
MESSAGE_SHORTCUT = "callmod_moderate_message"
GLOBAL_NAME = "Moderate a call…"
MESSAGE_NAME = "Moderate…"
GLOBAL_DESCRIPTION = "Mute, kick, grant, revoke or ban someone in a Stream call"
MESSAGE_DESCRIPTION = "Act on the user and call this callmod message is about"
LOOKUP_SECONDS = 1.0  # the case store, when the metadata is missing: inside the trigger's 3 s


class Shortcuts:
    def __init__(self, dispatcher: Dispatcher, forms: ActionForms, client: AsyncWebClient) -> None:
        self._dispatcher = dispatcher
        self._forms = forms
        self._client = client
        self._bot_id: str | None = None  # ours, from auth.test, to recognise our messages

    async def on_global(self, body: dict[str, Any]) -> None:
        await self._open(body, FormState(), channel=None, again=GLOBAL_NAME)

    async def on_message(self, body: dict[str, Any]) -> None:
        channel = str((body.get("channel") or {}).get("id") or "") or None
        message = body.get("message") or {}
        ours = await self._ours(message, str(body.get("api_app_id") or ""))
        state = prefill_from_message(message, self._call_type) if ours else None
        if state is None and channel:
            state = await self._from_store(channel, str(message.get("ts") or ""))
        await self._open(body, state or FormState(), channel=channel, again=MESSAGE_NAME)

    async def _ours(self, message: dict[str, Any], app_id: str) -> bool:
        """Whether callmod posted `message`: its app id (when Slack sends the payload's), or
        its bot id against ours (auth.test, asked once)."""
        if app_id and message.get("app_id"):
            return bool(message["app_id"] == app_id)
        sender = message.get("bot_id")
        if not sender:
            return False
        if self._bot_id is None:
            try:
                answer = await asyncio.wait_for(self._client.auth_test(), LOOKUP_SECONDS)
                self._bot_id = str(answer.get("bot_id") or "") or None
            except (SlackApiError, TimeoutError) as error:
                log.info("auth.test for the bot id failed: %s", type(error).__name__)
                return False
        return bool(sender == self._bot_id)

    @property
    def _call_type(self) -> str:
        return self._dispatcher.context(Actor("", "", Role.NONE)).settings.mod_default_call_type

    async def _from_store(self, channel: str, ts: str) -> FormState | None:
        if not ts:
            return None
        store = self._dispatcher.context(Actor("", "", Role.NONE)).cases.store
        try:
            cases = await asyncio.wait_for(store.find_by_message(channel, ts), LOOKUP_SECONDS)
        except (CaseStoreError, TimeoutError) as error:
            log.info("no case for the shortcut's message: %s", type(error).__name__)
            return None
        if not cases:
            return None
        case = max(cases, key=lambda c: c.number)
        return _state(case.target_user_id, case.call_cid, case.number, self._call_type)

    async def _open(
        self, body: dict[str, Any], state: FormState, *, channel: str | None, again: str
    ) -> None:
        user = body.get("user") or {}
        user_id = str(user.get("id", ""))
        reply = await self._forms.open(
            str(body.get("trigger_id") or ""),
            replace(state, channel=channel),
            user_id=user_id,
            user_name=str(user.get("username") or user.get("name") or user_id),
            again=again,
            outsiders_told=True,
        )
        if reply is not None and reply.text:
            await self._forms.tell(user_id, channel, reply)
        elif reply is None:
            await self._forms.tell(
                user_id,
                channel,
                Reply(":warning: Slack sent no trigger to open the form with; try again."),
            )


def prefill_from_message(message: dict[str, Any], call_type: str) -> FormState | None:
    """The form pre-filled from a callmod message's `callmod_case` metadata, or None."""
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != METADATA_EVENT:
        return None
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict):
        return None
    number = payload.get("case_number")
    user, call = payload.get("user_id"), payload.get("call_cid")
    return _state(
        user if isinstance(user, str) else None,
        call if isinstance(call, str) else None,
        number if isinstance(number, int) and not isinstance(number, bool) else None,
        call_type,
    )


def _state(user: str | None, call: str | None, case: int | None, call_type: str) -> FormState:
    """Pre-filled fields, each kept only when it reads as a user id or a call."""
    try:
        user = parse_user(user) if user else None
    except UsageError:
        user = None
    try:
        call = parse_call(call, call_type).cid if call else None
    except UsageError:
        call = None
    # With a call, the lightest action on it; without one, the only call-less action.
    return FormState(action="mute" if call else "ban", user=user, call=call, case=case)
