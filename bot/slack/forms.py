"""Action forms (issue 14): the ban form, a Slack modal.

It opens from `/ban` given nothing or only a user, and from Ban… on a roster row or a user card,
with `views.open` on the fast path (Slack's trigger_id lives 3 s, so it is never queued behind
the post-ack work limit). Its user picker is an external select fed by Stream (`block_suggestion`,
users by id or name prefix). At submit the fields are checked (a user chosen and known to Stream,
a length the submitter's role allows, a preset they may use) and errors go back on the field
within Slack's 3 s; nothing reaches Stream until the form is valid. A valid form becomes the
`/ban` command line and runs through the dispatcher as the submitter (`Dispatcher.run_line`), so
the role is checked again and the case and the audit are written once, as for a typed `/ban`.

The result goes to the submitter with `chat.postEphemeral` in the channel the form was opened
from (kept in the view's `private_metadata`): that is where a typed `/ban` would have answered.
(`response_url_enabled` only works with a conversation picker in the form, one more field the
moderator would have to fill.) When Slack refuses the ephemeral (a channel the bot is not in),
the result goes to the submitter's DM with the app instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.dispatch import Dispatcher
from bot.core.model import Actor, Reply, Role
from bot.core.parsing import UsageError, format_duration, parse_duration, parse_user
from bot.core.presets import REASON_LIMIT, presets_of
from bot.core.registry import Command
from bot.stream import StreamAPIError

log = logging.getLogger("callmod.forms")

BAN_FORM = "callmod_form_ban"  # the modal's callback_id
USER_ACTION = "callmod_form_user"  # the external select Stream users are loaded into
# Ban… on a roster row and a user card (commands/live_view.py BAN_CHOICES_ACTION): with a
# trigger_id it opens this form pre-filled; its duration buttons remain the fallback.
BAN_BUTTON = "callmod_ban_choices"

USER_BLOCK, DURATION_BLOCK, PRESET_BLOCK, REASON_BLOCK = "user", "duration", "preset", "reason"
DURATION_ACTION, PRESET_ACTION, REASON_ACTION = "duration", "preset", "reason"
PERMANENT = "permanent"
NO_PRESET = "none"
# What the duration select offers, shortest first; each only to a role /ban's own rule allows.
DURATIONS: tuple[tuple[str, str], ...] = (
    ("30 minutes", "30m"),
    ("1 hour", "1h"),
    ("2 hours", "2h"),
    ("6 hours", "6h"),
    ("12 hours", "12h"),
    ("24 hours", "1d"),
    ("7 days", "1w"),
    ("Permanently", PERMANENT),
)
DEFAULT_DURATION = "1h"
MAX_OPTIONS = 100  # Slack shows at most 100 options from an options load
LOOKUP_SECONDS = 1.5  # the Stream check at submit, inside Slack's 3 s
EXPIRED = (
    ":hourglass: The ban form could not open in time (Slack allows 3 seconds); nothing was "
    "changed. Run `{again}` again, or type `/ban <user> [duration] [reason…]`."
)


@dataclass(frozen=True)
class Submission:
    """A valid ban form: the command line to run, by whom, and where to answer."""

    line: str
    actor: Actor
    channel_id: str | None


class Forms:
    def __init__(self, dispatcher: Dispatcher, client: AsyncWebClient) -> None:
        self._dispatcher = dispatcher
        self._client = client

    @property
    def _ban(self) -> Command[Any]:
        command = self._dispatcher.registry.get("ban")
        if command is None:  # pragma: no cover - the registry always declares /ban
            raise LookupError("/ban is not registered")
        return command

    # ---- opening ---------------------------------------------------------------------------

    @staticmethod
    def prefill_of(text: str) -> tuple[bool, str | None]:
        """Whether `/ban <text>` opens the form (nothing, or only a user), and the user."""
        words = text.split()
        if not words:
            return True, None
        if len(words) == 1 and not words[0].startswith("--"):
            try:
                return True, parse_user(words[0])
            except UsageError:
                return False, None
        return False, None

    async def open_ban(
        self,
        trigger_id: str,
        *,
        user_id: str,
        user_name: str,
        channel_id: str | None,
        target: str | None,
        again: str,
    ) -> Reply | None:
        """Open the ban form; None when this caller gets the typed path instead (no role: the
        dispatcher's denial). Returns the reply to send: empty text when the form opened."""
        actor = await self._dispatcher.actor(user_id, user_name)
        if actor.role < self._ban.min_role or not trigger_id:
            return None
        view = self.ban_view(actor, target, channel_id)
        try:
            await self._client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            log.warning("views.open failed: %s", code)
            if code in ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"):
                return Reply(EXPIRED.format(again=again), outcome="form_expired")
            return Reply(
                f":x: Slack would not open the ban form ({code or 'no reason given'}); nothing "
                "was changed. Type `/ban <user> [duration] [reason…]` instead.",
                outcome="failed",
            )
        return Reply("", outcome="form")

    def ban_view(self, actor: Actor, target: str | None, channel_id: str | None) -> dict[str, Any]:
        user_element: dict[str, Any] = {
            "type": "external_select",
            "action_id": USER_ACTION,
            "placeholder": _plain("A Stream user id or name"),
            "min_query_length": 1,
        }
        if target:
            user_element["initial_option"] = _option(target, target)
        durations = [_option(label, value) for label, value in self._durations(actor.role)]
        first = durations[0] if durations else None
        initial = next((o for o in durations if o["value"] == DEFAULT_DURATION), first)
        duration_element: dict[str, Any] = {
            "type": "static_select",
            "action_id": DURATION_ACTION,
            "options": durations,
        }
        if initial is not None:
            duration_element["initial_option"] = initial
        blocks: list[dict[str, Any]] = [
            _input(USER_BLOCK, "User", user_element),
            _input(DURATION_BLOCK, "Length", duration_element),
        ]
        presets = presets_of(self._dispatcher.context(actor).settings).usable_by(actor.role)
        if presets:
            options = [_option("No preset", NO_PRESET)]
            options += [_option(p.label, p.key) for p in presets[: MAX_OPTIONS - 1]]
            blocks.append(
                _input(
                    PRESET_BLOCK,
                    "Reason preset",
                    {
                        "type": "static_select",
                        "action_id": PRESET_ACTION,
                        "options": options,
                        "initial_option": options[0],
                    },
                    optional=True,
                )
            )
        blocks.append(
            _input(
                REASON_BLOCK,
                "Reason" if not presets else "Reason (or more after the preset)",
                {
                    "type": "plain_text_input",
                    "action_id": REASON_ACTION,
                    "max_length": REASON_LIMIT,
                    "placeholder": _plain("Shown in the ban notification and the case"),
                },
                optional=True,
            )
        )
        who = f"`{target}`" if target else "the user you choose"
        blocks.append(
            {
                "type": "context",
                "block_id": "summary",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"This will ban {who} from every call for the length chosen "
                        "above. Nothing is sent to Stream until you press Ban.",
                    }
                ],
            }
        )
        return {
            "type": "modal",
            "callback_id": BAN_FORM,
            "title": _plain("Ban a user"),
            "submit": _plain("Ban"),
            "close": _plain("Cancel"),
            "private_metadata": json.dumps({"c": channel_id}, separators=(",", ":")),
            "blocks": blocks,
        }

    def durations(self, role: Role) -> list[tuple[str, str]]:
        """(label, value) of the lengths `role` may ban for (the action form's Length too)."""
        return self._durations(role)

    def _durations(self, role: Role) -> list[tuple[str, str]]:
        """The lengths `role` may ban for, by /ban's own rule."""
        allowed = []
        for label, value in DURATIONS:
            # A stand-in reason, so MOD_REQUIRE_REASON does not stop the question.
            words = "x reason" if value == PERMANENT else f"x {value} reason"
            args = self._ban.parse(words, self._dispatcher.context(_nobody(role)).settings)
            if self._ban.role_needed(args) <= role:
                allowed.append((label, value))
        return allowed

    # ---- the user picker -------------------------------------------------------------------

    async def user_options(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Stream users whose id or name starts with what was typed; nothing for outsiders."""
        user = body.get("user") or {}
        actor = await self._dispatcher.actor(str(user.get("id", "")), _name(user))
        if actor.role < self._ban.min_role:
            return []
        prefix = str(body.get("value") or "").strip().lstrip("@")
        if not prefix:
            return []
        stream = self._dispatcher.context(actor).stream
        try:
            found = await asyncio.wait_for(
                stream.query_users(prefix, limit=MAX_OPTIONS), LOOKUP_SECONDS
            )
        except (StreamAPIError, TimeoutError) as error:
            log.warning("user options for %r failed: %s", prefix, type(error).__name__)
            return []
        options = []
        for found_user in found[:MAX_OPTIONS]:
            label = f"{found_user.name} ({found_user.id})" if found_user.name else found_user.id
            options.append(_option(label, found_user.id))
        return options

    # ---- submitting ------------------------------------------------------------------------

    async def check_ban(self, body: dict[str, Any]) -> Submission | dict[str, str]:
        """The submitted form as a /ban line, or Slack's `errors` (block_id → sentence)."""
        user = body.get("user") or {}
        actor = await self._dispatcher.actor(str(user.get("id", "")), _name(user))
        view = body.get("view") or {}
        values: dict[str, Any] = (view.get("state") or {}).get("values") or {}
        channel_id = _metadata_channel(str(view.get("private_metadata") or ""))
        target = _selected(values, USER_BLOCK, USER_ACTION)
        duration = _selected(values, DURATION_BLOCK, DURATION_ACTION) or DEFAULT_DURATION
        preset = _selected(values, PRESET_BLOCK, PRESET_ACTION)
        reason = _typed(values, REASON_BLOCK, REASON_ACTION)
        words = [target or "x"]
        if duration != PERMANENT:
            words.append(duration)
        if preset and preset != NO_PRESET:
            words.append(f"#{preset}")
        if reason:
            words.append(reason)
        line_args = " ".join(words)
        if actor.role < self._ban.min_role:
            # No field can fix this: the dispatcher answers with the denial, nothing is read.
            return Submission(f"ban {line_args}", actor, channel_id)
        errors: dict[str, str] = {}
        if target is None:
            errors[USER_BLOCK] = "Choose the user to ban."
        elif duration != PERMANENT:
            try:
                parse_duration(duration)
            except UsageError:
                errors[DURATION_BLOCK] = "Choose one of the lengths in the list."
        if errors:
            return errors
        settings = self._dispatcher.context(actor).settings
        try:
            args = self._ban.parse(line_args, settings)
        except UsageError as error:
            block = PRESET_BLOCK if "preset" in str(error) else REASON_BLOCK
            if "Stream user id" in str(error):
                block = USER_BLOCK
            return {block: _sentence(str(error))}
        length = "" if duration == PERMANENT else f" {duration}"
        plain_args = self._ban.parse(f"{target}{length} reason", settings)  # without the preset
        if self._ban.role_needed(plain_args) > actor.role:
            longest = self._durations(actor.role)
            most = f" at most {longest[-1][0].lower()}" if longest else ""
            what = "permanently" if duration == PERMANENT else f"for {_label_of(duration).lower()}"
            return {
                DURATION_BLOCK: f"You need the admin role to ban {what}; as a {actor.role.label} "
                f"you can ban for{most}."
            }
        if self._ban.role_needed(args) > actor.role:
            return {PRESET_BLOCK: "That preset needs the admin role; choose another."}
        assert target is not None
        stream = self._dispatcher.context(actor).stream
        try:
            known = await asyncio.wait_for(stream.get_user(target), LOOKUP_SECONDS)
        except (StreamAPIError, TimeoutError) as error:
            # Unchecked: the ban itself answers if Stream has no such user.
            log.warning("could not check user %s at submit: %s", target, type(error).__name__)
        else:
            if known is None:
                return {USER_BLOCK: f"Stream has no user {target!r}; choose one from the list."}
        return Submission(f"ban {line_args}", actor, channel_id)

    async def run(self, submission: Submission) -> Reply:
        """Run the form's /ban as the submitter (role checked again) and answer them."""
        actor = submission.actor
        reply = await self._dispatcher.run_line(
            submission.line, user_id=actor.user_id, user_name=actor.user_name
        )
        await self.tell(actor.user_id, submission.channel_id, reply)
        return reply

    async def tell(self, user_id: str, channel_id: str | None, reply: Reply) -> None:
        if channel_id:
            try:
                await self._client.chat_postEphemeral(
                    channel=channel_id, user=user_id, text=reply.text, blocks=reply.blocks
                )
                return
            except SlackApiError as error:
                log.warning("form result ephemeral failed: %s", error.response.get("error"))
        try:
            await self._client.chat_postMessage(
                channel=user_id, text=reply.text, blocks=reply.blocks
            )
        except SlackApiError as error:
            log.warning("form result DM failed: %s", error.response.get("error"))


def _nobody(role: Role) -> Actor:
    return Actor("", "", role)


def _name(user: dict[str, Any]) -> str:
    return str(user.get("username") or user.get("name") or user.get("id") or "someone")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(label: str, value: str) -> dict[str, Any]:
    text = label if len(label) <= 75 else label[:74] + "…"
    return {"text": _plain(text), "value": value}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }


def _label_of(duration: str) -> str:
    for label, value in DURATIONS:
        if value == duration:
            return label
    try:
        return format_duration(parse_duration(duration))
    except UsageError:
        return duration


def _selected(values: dict[str, Any], block: str, action: str) -> str | None:
    state = (values.get(block) or {}).get(action) or {}
    option = state.get("selected_option") or {}
    value = option.get("value")
    return str(value) if value else None


def _typed(values: dict[str, Any], block: str, action: str) -> str | None:
    state = (values.get(block) or {}).get(action) or {}
    value = state.get("value")
    return " ".join(str(value).split()) or None if value else None


def _metadata_channel(metadata: str) -> str | None:
    try:
        data = json.loads(metadata) if metadata else {}
    except ValueError:
        return None
    channel = data.get("c") if isinstance(data, dict) else None
    return str(channel) if channel else None


def _sentence(problem: str) -> str:
    text = problem.replace("`", "'")
    text = text[0].upper() + text[1:] if text else text
    return text if text.endswith(".") else text + "."
