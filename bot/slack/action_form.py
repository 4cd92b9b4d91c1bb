"""The one action form (issue 14): mute, kick, grant, revoke and ban in one Slack modal.

It opens from `/mute`, `/kick`, `/grant` and `/revoke` given nothing or only a user, from the
roster's Mute… button, and from the shortcuts (bot/slack/shortcuts.py), with `views.open` on the
fast path (a trigger_id lives 3 s). Its fields:

    Action       static select: mute, kick, grant, revoke, ban (changing it redraws the form)
    User         external select: the chosen call's participants first, then Stream users
                 whose id or name starts with what was typed (`query_users`)
    Call         external select: live calls (`query_calls`), or a call id typed in full
    Tracks       checkboxes (mute) · Permissions checkboxes (grant, revoke) · Keep them out
                 checkbox (kick) · Length select (ban, the lengths the viewer's role allows)
    Preset       reason presets the viewer may use (kick, ban: the commands that take reasons)
    Reason       free text (kick, ban)
    Summary      what will happen, in the command's own words (its `Plan`), redrawn with
                 `views.update` whenever a field that changes it is picked (`dispatch_action`)

At submit every field is checked and errors go back on the field (`response_action: errors`)
within Slack's 3 s; nothing reaches Stream until the form is valid. A valid form becomes the
command line a moderator would have typed and runs through `Dispatcher.run_line` as the
submitter (the ban form's `Forms.run`), so the role is checked again and the case, the audit
line and the confirmation are written once. A ban chosen here is checked by the ban form's own
rules (`Forms.check_ban`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.dispatch import Dispatcher
from bot.core.model import Actor, Reply, Role
from bot.core.parsing import (
    PERMISSION_WORDS,
    TRACK_WORDS,
    UsageError,
    parse_call,
    parse_user,
)
from bot.core.presets import REASON_LIMIT, presets_of
from bot.core.registry import Command
from bot.slack import forms as ban_form
from bot.slack.forms import Forms, Submission
from bot.stream import StreamAPIError

log = logging.getLogger("callmod.forms")

ACTION_FORM = "callmod_form_action"  # the modal's callback_id
FIELD_PREFIX = "callmod_f_"  # every field whose change redraws the summary (block_actions)
FIELD_ACTION = "callmod_f_action"
FIELD_USER = "callmod_f_user"  # external select: options load from Stream
FIELD_CALL = "callmod_f_call"  # external select: live calls
FIELD_TRACKS = "callmod_f_tracks"
FIELD_PERMISSIONS = "callmod_f_permissions"
FIELD_KEEP_OUT = "callmod_f_keep_out"
FIELD_DURATION = "callmod_f_duration"
FIELD_PRESET = "callmod_f_preset"
FIELD_REASON = "callmod_f_reason"
# Mute… on a roster row: opens this form with the user and the call filled in. Declared again
# in commands/live_view.py (commands/ may not import the Slack adapter); a test checks they agree.
OPEN_BUTTON = "callmod_form_open"

ACTION_BLOCK, USER_BLOCK, CALL_BLOCK = "action", ban_form.USER_BLOCK, "call"
TRACKS_BLOCK, PERMISSIONS_BLOCK, KEEP_OUT_BLOCK = "tracks", "permissions", "keep_out"
DURATION_BLOCK, PRESET_BLOCK = ban_form.DURATION_BLOCK, ban_form.PRESET_BLOCK
REASON_BLOCK = ban_form.REASON_BLOCK

# What the Action select offers, in this order; the value is the command's name.
ACTIONS: tuple[tuple[str, str, str], ...] = (
    # (value, option label, submit button)
    ("mute", "Mute their tracks", "Mute"),
    ("kick", "Kick them from the call", "Kick"),
    ("revoke", "Take a permission away (revoke)", "Revoke"),
    ("grant", "Give a permission (grant)", "Grant"),
    ("ban", "Ban them from every call", "Ban"),
)
ACTION_NAMES = frozenset(value for value, _, _ in ACTIONS)
REASONED = frozenset({"kick", "ban"})  # the commands whose grammar takes a reason
CALL_ACTIONS = ACTION_NAMES - {"ban"}  # a ban is not about one call
TRACK_LABELS = {
    "audio": "Audio",
    "video": "Video",
    "screenshare": "Screen share",
    "screenshare_audio": "Screen-share audio",
}
PERMISSION_LABELS = {
    "audio": "Speak (audio)",
    "video": "Share video",
    "screenshare": "Share screen",
}
KEEP_OUT = "block"
MAX_OPTIONS = ban_form.MAX_OPTIONS
LOOKUP_SECONDS = ban_form.LOOKUP_SECONDS
CALLS_LISTED = 100
NO_ROLE = (
    "You have no callmod role, so there is nothing here you can do. An admin can add you to "
    "MOD_MODERATORS."
)


@dataclass(frozen=True)
class FormState:
    """What the form holds: pre-filled when it opens, read back from Slack's state after."""

    action: str = "mute"
    user: str | None = None
    call: str | None = None
    tracks: tuple[str, ...] = ("audio",)
    permissions: tuple[str, ...] = ("audio",)
    keep_out: bool = False
    duration: str | None = None
    preset: str | None = None
    reason: str | None = None
    case: int | None = None  # the case the form was opened about (message shortcut)
    channel: str | None = None  # where the answer goes (the ban form's private_metadata "c")

    def metadata(self) -> str:
        data: dict[str, Any] = {"c": self.channel, "a": self.action}
        if self.user:
            data["u"] = self.user
        if self.call:
            data["k"] = self.call
        if self.case is not None:
            data["n"] = self.case
        return json.dumps(data, separators=(",", ":"))


def state_of(view: dict[str, Any]) -> FormState:
    """The form as the user left it: Slack's `state.values` over what it opened with."""
    try:
        meta = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    values: dict[str, Any] = (view.get("state") or {}).get("values") or {}
    action = _selected(values, ACTION_BLOCK, FIELD_ACTION) or str(meta.get("a") or "mute")
    case = meta.get("n")
    state = FormState(
        action=action if action in ACTION_NAMES else "mute",
        # What the view opened (or was last redrawn) with, unless Slack sent the field's state.
        user=_picked_or(values, USER_BLOCK, FIELD_USER, meta.get("u")),
        call=_picked_or(values, CALL_BLOCK, FIELD_CALL, meta.get("k")),
        case=case if isinstance(case, int) else None,
        channel=_text(meta.get("c")),
    )
    if TRACKS_BLOCK in values:
        state = replace(state, tracks=_checked(values, TRACKS_BLOCK, FIELD_TRACKS))
    if PERMISSIONS_BLOCK in values:
        state = replace(state, permissions=_checked(values, PERMISSIONS_BLOCK, FIELD_PERMISSIONS))
    return replace(
        state,
        keep_out=KEEP_OUT in _checked(values, KEEP_OUT_BLOCK, FIELD_KEEP_OUT),
        duration=_selected(values, DURATION_BLOCK, FIELD_DURATION),
        preset=_selected(values, PRESET_BLOCK, FIELD_PRESET),
        reason=_typed(values, REASON_BLOCK, FIELD_REASON),
    )


class ActionForms:
    def __init__(self, dispatcher: Dispatcher, client: AsyncWebClient, forms: Forms) -> None:
        self._dispatcher = dispatcher
        self._client = client
        self._forms = forms  # the ban form: its lengths, its checks, and how results are told

    def _command(self, name: str) -> Command[Any]:
        command = self._dispatcher.registry.get(name)
        if command is None:  # pragma: no cover - the registry declares every form action
            raise LookupError(f"/{name} is not registered")
        return command

    # ---- opening ---------------------------------------------------------------------------

    @staticmethod
    def prefill_of(text: str) -> tuple[bool, str | None]:
        """Whether `/kick <text>` (and /mute, /grant, /revoke) opens the form, and the user."""
        return Forms.prefill_of(text)

    async def open(
        self,
        trigger_id: str,
        state: FormState,
        *,
        user_id: str,
        user_name: str,
        again: str,
        outsiders_told: bool = False,
    ) -> Reply | None:
        """Open the form; None when this caller gets the typed path instead (no role, no
        trigger). `outsiders_told`: someone with no role gets a modal saying so (shortcuts,
        which have no typed path). Returns the reply to send: empty text when it opened."""
        actor = await self._dispatcher.actor(user_id, user_name)
        if not trigger_id:
            return None
        if actor.role < Role.MODERATOR:
            if not outsiders_told:
                return None
            view = notice_view("callmod", NO_ROLE)
        else:
            view = self.view(actor, state)
        try:
            await self._client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as error:
            code = str(error.response.get("error", ""))
            log.warning("views.open failed: %s", code)
            if code in ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"):
                return Reply(
                    ":hourglass: The form could not open in time (Slack allows 3 seconds); "
                    f"nothing was changed. Try `{again}` again, or type the command in full "
                    "(`/mod help` shows how).",
                    outcome="form_expired",
                )
            return Reply(
                f":x: Slack would not open the form ({code or 'no reason given'}); nothing was "
                "changed. Type the command in full instead (`/mod help` shows how).",
                outcome="failed",
            )
        return Reply("", outcome="form")

    def view(self, actor: Actor, state: FormState) -> dict[str, Any]:
        action = state.action
        lengths = self._forms.durations(actor.role) if action == "ban" else []
        if action == "ban":  # the length shown chosen is the one the summary describes
            chosen = state.duration or ban_form.DEFAULT_DURATION
            if lengths and chosen not in [value for _, value in lengths]:
                chosen = lengths[0][1]
            state = replace(state, duration=chosen)
        blocks: list[dict[str, Any]] = [
            _input(
                ACTION_BLOCK,
                "Action",
                _static(FIELD_ACTION, [(label, value) for value, label, _ in ACTIONS], action),
                dispatch=True,
            )
        ]
        if state.case is not None:
            blocks.append(_context("about", f"About case #{state.case}."))
        user_element: dict[str, Any] = {
            "type": "external_select",
            "action_id": FIELD_USER,
            "placeholder": _plain("A participant, or a Stream user id or name"),
            "min_query_length": 0,
        }
        if state.user:
            user_element["initial_option"] = _option(state.user, state.user)
        blocks.append(_input(USER_BLOCK, "User", user_element, dispatch=True))
        if action in CALL_ACTIONS:
            call_element: dict[str, Any] = {
                "type": "external_select",
                "action_id": FIELD_CALL,
                "placeholder": _plain("A live call, or a call id"),
                "min_query_length": 0,
            }
            if state.call:
                call_element["initial_option"] = _option(state.call, state.call)
            blocks.append(_input(CALL_BLOCK, "Call", call_element, dispatch=True))
        if action == "mute":
            blocks.append(
                _input(
                    TRACKS_BLOCK,
                    "Tracks to mute",
                    _checkboxes(FIELD_TRACKS, TRACK_LABELS, state.tracks),
                    dispatch=True,
                )
            )
        elif action in ("grant", "revoke"):
            label = "Let them" if action == "grant" else "Stop them from being able to"
            blocks.append(
                _input(
                    PERMISSIONS_BLOCK,
                    label,
                    _checkboxes(FIELD_PERMISSIONS, PERMISSION_LABELS, state.permissions),
                    dispatch=True,
                )
            )
        elif action == "kick":
            keep = {KEEP_OUT: "Also block them from joining again"}
            blocks.append(
                _input(
                    KEEP_OUT_BLOCK,
                    "Keep them out",
                    _checkboxes(FIELD_KEEP_OUT, keep, (KEEP_OUT,) if state.keep_out else ()),
                    dispatch=True,
                    optional=True,
                )
            )
        elif action == "ban":
            blocks.append(
                _input(
                    DURATION_BLOCK,
                    "Length",
                    _static(FIELD_DURATION, lengths, state.duration),
                    dispatch=True,
                )
            )
        if action in REASONED:
            blocks += self._reason_blocks(actor, state)
        blocks.append(_context("summary", self.summary(actor, state)))
        submit = next(button for value, _, button in ACTIONS if value == action)
        return {
            "type": "modal",
            "callback_id": ACTION_FORM,
            "title": _plain("Moderate"),
            "submit": _plain(submit),
            "close": _plain("Cancel"),
            "private_metadata": state.metadata(),
            "blocks": blocks,
        }

    def _reason_blocks(self, actor: Actor, state: FormState) -> list[dict[str, Any]]:
        presets = presets_of(self._dispatcher.context(actor).settings).usable_by(actor.role)
        blocks = []
        if presets:
            choices = [("No preset", ban_form.NO_PRESET)]
            choices += [(p.label, p.key) for p in presets[: MAX_OPTIONS - 1]]
            chosen = state.preset or ban_form.NO_PRESET
            blocks.append(
                _input(
                    PRESET_BLOCK,
                    "Reason preset",
                    _static(FIELD_PRESET, choices, chosen),
                    dispatch=True,
                    optional=True,
                )
            )
        reason: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": FIELD_REASON,
            "max_length": REASON_LIMIT,
            "placeholder": _plain("Shown in the audit line and the case"),
        }
        if state.reason:
            reason["initial_value"] = state.reason
        label = "Reason (or more after the preset)" if presets else "Reason"
        blocks.append(_input(REASON_BLOCK, label, reason, optional=True))
        return blocks

    def summary(self, actor: Actor, state: FormState) -> str:
        """What pressing the button will do, in the command's own words."""
        button = next(button for value, _, button in ACTIONS if value == state.action)
        missing = self._missing(state)
        if missing:
            return f"Choose {missing}. Nothing is sent to Stream until you press {button}."
        line = self._line(state, with_reason=False)
        command = self._command(state.action)
        settings = self._dispatcher.context(actor).settings.with_values(mod_require_reason=False)
        try:
            args = command.parse(line.partition(" ")[2], settings)
        except UsageError as error:
            return f":warning: {ban_form._sentence(str(error))}"
        text = f"This will {command.plan(args).summary}."
        if state.action == "mute":
            text += " They can unmute themselves; Stream has no unmute, so there is no Undo."
        needed = command.role_needed(args)
        if needed > actor.role:
            text += f" :lock: That needs the *{needed.label}* role."
        return f"{text} Nothing is sent to Stream until you press {button}."

    @staticmethod
    def _missing(state: FormState) -> str:
        wanted = []
        if not state.user:
            wanted.append("a user")
        if state.action in CALL_ACTIONS and not state.call:
            wanted.append("a call")
        if state.action == "mute" and not state.tracks:
            wanted.append("at least one track")
        if state.action in ("grant", "revoke") and not state.permissions:
            wanted.append("at least one permission")
        return " and ".join(wanted)

    @staticmethod
    def _line(state: FormState, *, with_reason: bool = True) -> str:
        """The command line the form stands for (every field present)."""
        words = [state.action, state.user or "x"]
        if state.action in CALL_ACTIONS:
            words.append(state.call or "x")
        if state.action == "mute":
            words += list(state.tracks)
        elif state.action in ("grant", "revoke"):
            words += list(state.permissions)
        elif state.action == "ban" and state.duration and state.duration != ban_form.PERMANENT:
            words.append(state.duration)
        if state.action in REASONED and with_reason:
            if state.preset and state.preset != ban_form.NO_PRESET:
                words.append(f"#{state.preset}")
            if state.reason:
                words.append(state.reason)
        if state.action == "kick" and state.keep_out:
            words.append("--block")
        return " ".join(words)

    # ---- redrawing -------------------------------------------------------------------------

    async def refresh(self, body: dict[str, Any]) -> None:
        """A field changed (block_actions in the modal): redraw the form for the new action and
        the summary, with `views.update` on the view's hash (a newer edit wins)."""
        view = body.get("view") or {}
        if view.get("callback_id") != ACTION_FORM or not view.get("id"):
            return
        user = body.get("user") or {}
        actor = await self._dispatcher.actor(str(user.get("id", "")), ban_form._name(user))
        if actor.role < Role.MODERATOR:
            return
        new = self.view(actor, state_of(view))
        try:
            await self._client.views_update(view_id=view["id"], hash=view.get("hash"), view=new)
        except SlackApiError as error:
            # hash_conflict: a later change is being drawn already; anything else leaves the
            # form as it was, and the submit check still applies.
            log.info("views.update of the action form: %s", error.response.get("error"))

    # ---- options ---------------------------------------------------------------------------

    async def user_options(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The chosen call's participants whose id or name contains what was typed, then Stream
        users whose id or name starts with it; nothing for outsiders."""
        actor = await self._actor(body)
        if actor is None:
            return []
        typed = str(body.get("value") or "").strip().lstrip("@")
        state = state_of(body.get("view") or {})
        stream = self._dispatcher.context(actor).stream
        options: dict[str, dict[str, Any]] = {}
        if state.call and state.action in CALL_ACTIONS:
            try:
                call = parse_call(state.call, self._default_type(actor))
                _, people, _ = await asyncio.wait_for(
                    stream.query_call_participants(call), LOOKUP_SECONDS
                )
            except (UsageError, StreamAPIError, TimeoutError) as error:
                log.info("participants of %s for the picker: %s", state.call, type(error).__name__)
                people = []
            needle = typed.casefold()
            for person in people:
                name = person.name or ""
                if needle in person.user_id.casefold() or needle in name.casefold():
                    label = f"{name} ({person.user_id})" if name else person.user_id
                    option = _option(f"{label} · in the call", person.user_id)
                    options.setdefault(person.user_id, option)
        if typed and len(options) < MAX_OPTIONS:
            try:
                found = await asyncio.wait_for(
                    stream.query_users(typed, limit=MAX_OPTIONS), LOOKUP_SECONDS
                )
            except (StreamAPIError, TimeoutError) as error:
                log.info("users for the picker: %s", type(error).__name__)
                found = []
            for user in found:
                label = f"{user.name} ({user.id})" if user.name else user.id
                options.setdefault(user.id, _option(label, user.id))
        return list(options.values())[:MAX_OPTIONS]

    async def call_options(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Live calls whose id contains what was typed, and the typed call id itself when it
        is a valid one Stream did not list (a call nobody is in can still be granted)."""
        actor = await self._actor(body)
        if actor is None:
            return []
        typed = str(body.get("value") or "").strip()
        stream = self._dispatcher.context(actor).stream
        try:
            page = await asyncio.wait_for(
                stream.query_calls(ongoing=True, limit=CALLS_LISTED), LOOKUP_SECONDS
            )
            calls = page.calls
        except (StreamAPIError, TimeoutError) as error:
            log.info("calls for the picker: %s", type(error).__name__)
            calls = ()
        needle = typed.casefold()
        options = [
            _option(f"{call.cid} · {_people(call.participant_count)}", call.cid)
            for call in calls
            if needle in call.cid.casefold()
        ]
        if typed:
            try:
                cid = parse_call(typed, self._default_type(actor)).cid
            except UsageError:
                cid = None
            if cid is not None and all(o["value"] != cid for o in options):
                options.append(_option(f"{cid} (not live now)", cid))
        return options[:MAX_OPTIONS]

    async def _actor(self, body: dict[str, Any]) -> Actor | None:
        user = body.get("user") or {}
        actor = await self._dispatcher.actor(str(user.get("id", "")), ban_form._name(user))
        return actor if actor.role >= Role.MODERATOR else None

    def _default_type(self, actor: Actor) -> str:
        return self._dispatcher.context(actor).settings.mod_default_call_type

    # ---- submitting ------------------------------------------------------------------------

    async def check(self, body: dict[str, Any]) -> Submission | dict[str, str]:
        """The submitted form as a command line, or Slack's `errors` (block_id → sentence)."""
        user = body.get("user") or {}
        actor = await self._dispatcher.actor(str(user.get("id", "")), ban_form._name(user))
        view = body.get("view") or {}
        state = state_of(view)
        if state.action == "ban":
            return await self._forms.check_ban(_as_ban_form(body, state))
        command = self._command(state.action)
        if actor.role < command.min_role:
            # No field can fix this: the dispatcher answers with the denial, nothing is read.
            return Submission(self._line(state), actor, state.channel)
        errors = self._field_errors(state)
        if errors:
            return errors
        settings = self._dispatcher.context(actor).settings
        line = self._line(state)
        try:
            args = command.parse(line.partition(" ")[2], settings)
        except UsageError as error:
            return {_block_of(str(error), state): ban_form._sentence(str(error))}
        needed = command.role_needed(args)
        if needed > actor.role:
            block = PRESET_BLOCK if state.preset else ACTION_BLOCK
            return {block: f"That needs the {needed.label} role; as a {actor.role.label} "
                    "choose another."}
        assert state.user is not None
        unknown = await self._unknown_user(actor, state.user)
        if unknown:
            return {USER_BLOCK: unknown}
        return Submission(line, actor, state.channel)

    @staticmethod
    def _field_errors(state: FormState) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not state.user:
            errors[USER_BLOCK] = "Choose the user."
        if state.action in CALL_ACTIONS and not state.call:
            errors[CALL_BLOCK] = "Choose the call."
        if state.action == "mute" and not state.tracks:
            errors[TRACKS_BLOCK] = "Tick at least one track to mute."
        if state.action in ("grant", "revoke") and not state.permissions:
            errors[PERMISSIONS_BLOCK] = f"Tick at least one permission to {state.action}."
        if state.action == "mute" and not set(state.tracks) <= set(TRACK_WORDS):
            errors[TRACKS_BLOCK] = "Tick tracks from the list."
        if state.action in ("grant", "revoke") and not set(state.permissions) <= set(
            PERMISSION_WORDS
        ):
            errors[PERMISSIONS_BLOCK] = "Tick permissions from the list."
        reason = state.reason or ""
        if any(word.startswith("--") for word in reason.split()):
            errors[REASON_BLOCK] = "A reason cannot contain words that start with --."
        elif reason.startswith("#") and not state.preset:
            errors[REASON_BLOCK] = "Choose a preset from the list instead of typing #name."
        if state.user:
            try:
                parse_user(state.user)
            except UsageError as error:
                errors[USER_BLOCK] = ban_form._sentence(str(error))
        return errors

    async def _unknown_user(self, actor: Actor, user_id: str) -> str | None:
        stream = self._dispatcher.context(actor).stream
        try:
            known = await asyncio.wait_for(stream.get_user(user_id), LOOKUP_SECONDS)
        except (StreamAPIError, TimeoutError) as error:
            # Unchecked: the command itself answers if Stream has no such user.
            log.warning("could not check user %s at submit: %s", user_id, type(error).__name__)
            return None
        if known is None:
            return f"Stream has no user {user_id!r}; choose one from the list."
        return None

    async def run(self, submission: Submission) -> Reply:
        return await self._forms.run(submission)

    async def tell(self, user_id: str, channel_id: str | None, reply: Reply) -> None:
        await self._forms.tell(user_id, channel_id, reply)


def notice_view(title: str, text: str) -> dict[str, Any]:
    """A modal that only says something (no submit button)."""
    return {
        "type": "modal",
        "title": _plain(title[:24]),
        "close": _plain("Close"),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def _as_ban_form(body: dict[str, Any], state: FormState) -> dict[str, Any]:
    """The submission as the ban form's own check reads it (its block and action ids)."""
    picked = {
        ban_form.USER_BLOCK: {ban_form.USER_ACTION: _picked(state.user)},
        ban_form.DURATION_BLOCK: {ban_form.DURATION_ACTION: _picked(state.duration)},
        ban_form.PRESET_BLOCK: {ban_form.PRESET_ACTION: _picked(state.preset)},
        ban_form.REASON_BLOCK: {ban_form.REASON_ACTION: {"value": state.reason}},
    }
    view = dict(body.get("view") or {})
    view["state"] = {"values": picked}
    view["private_metadata"] = json.dumps({"c": state.channel}, separators=(",", ":"))
    return {**body, "view": view}


def _picked(value: str | None) -> dict[str, Any]:
    return {"selected_option": {"value": value} if value else None}


def _block_of(problem: str, state: FormState) -> str:
    """Which field a command's usage error is about."""
    lowered = problem.lower()
    if "stream user id" in lowered:
        return USER_BLOCK
    if "call" in lowered and state.action in CALL_ACTIONS:
        return CALL_BLOCK
    if "preset" in lowered:
        return PRESET_BLOCK
    if "track" in lowered:
        return TRACKS_BLOCK
    if "permission" in lowered:
        return PERMISSIONS_BLOCK
    return REASON_BLOCK if state.action in REASONED else ACTION_BLOCK


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count} people"


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(label: str, value: str) -> dict[str, Any]:
    text = label if len(label) <= 75 else label[:74] + "…"
    return {"text": _plain(text), "value": value}


def _static(action_id: str, choices: list[tuple[str, str]], chosen: str | None) -> dict[str, Any]:
    options = [_option(label, value) for label, value in choices]
    element: dict[str, Any] = {"type": "static_select", "action_id": action_id, "options": options}
    initial = next((o for o in options if o["value"] == chosen), None)
    if initial is not None:
        element["initial_option"] = initial
    return element


def _checkboxes(
    action_id: str, labels: dict[str, str], checked: tuple[str, ...]
) -> dict[str, Any]:
    options = [_option(label, value) for value, label in labels.items()]
    element: dict[str, Any] = {"type": "checkboxes", "action_id": action_id, "options": options}
    initial = [o for o in options if o["value"] in checked]
    if initial:
        element["initial_options"] = initial
    return element


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    dispatch: bool = False,
    optional: bool = False,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }
    if dispatch:
        block["dispatch_action"] = True  # a pick sends block_actions: the summary is redrawn
    return block


def _context(block_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "block_id": block_id,
        "elements": [{"type": "mrkdwn", "text": text}],
    }


def _selected(values: dict[str, Any], block: str, action: str) -> str | None:
    return ban_form._selected(values, block, action)


def _picked_or(values: dict[str, Any], block: str, action: str, kept: object) -> str | None:
    if block in values:
        return _selected(values, block, action)
    return _text(kept)


def _typed(values: dict[str, Any], block: str, action: str) -> str | None:
    return ban_form._typed(values, block, action)


def _checked(values: dict[str, Any], block: str, action: str) -> tuple[str, ...]:
    state = (values.get(block) or {}).get(action) or {}
    picked = state.get("selected_options") or []
    return tuple(str(o.get("value")) for o in picked if isinstance(o, dict) and o.get("value"))
