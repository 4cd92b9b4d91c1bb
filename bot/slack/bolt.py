"""Bolt wiring: every registry command becomes a slash-command listener, every registry button
an action listener, and all of them go through one wrapper (`Listeners.wrap`): ack first, a
request id, bounded post-ack work, the reply, metrics, and an error reference instead of a
stack trace."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import names
from bot.core.dispatch import (
    CANCEL_ACTION,
    COMMAND_ACTION,
    COMMAND_ACTIONS,
    CONFIRM_ACTION,
    Dispatcher,
)
from bot.core.model import Reply
from bot.core.undo import UNDO_ACTION
from bot.runtime.metrics import Metrics
from bot.slack import blocks
from bot.slack.action_form import (
    ACTION_FORM,
    CALL_ACTIONS,
    FIELD_CALL,
    FIELD_PREFIX,
    FIELD_USER,
    OPEN_BUTTON,
    ActionForms,
    FormState,
)
from bot.slack.forms import BAN_BUTTON, BAN_FORM, USER_ACTION, Forms, Submission
from bot.slack.home import AppHome
from bot.slack.replies import ReplySender
from bot.slack.shortcuts import GLOBAL_SHORTCUT, MESSAGE_SHORTCUT, Shortcuts
from bot.util.inflight import InFlight
from bot.util.request_ids import new_request_id

log = logging.getLogger("callmod.app")

INTERNAL_ERROR = (
    ":x: callmod hit an internal error (ref `{ref}`) before it could act; nothing was sent to "
    "Stream. The on-call engineer can find the details in the logs under that ref."
)


@dataclass(frozen=True)
class Answer:
    reply: Reply
    replace_original: bool = False  # replace the clicked message instead of a new ephemeral one


Payload = dict[str, Any]
Work = Callable[[Payload], Awaitable[Answer]]
# Work that must happen right after the ack, ahead of the post-ack limit (views.open: the
# trigger_id lives 3 s). None: not for it, go on with `Work`; an Answer: done (no text, no reply).
Fast = Callable[[Payload], Awaitable[Answer | None]]
Listener = Callable[..., Awaitable[None]]


class Listeners:
    """The one wrapper every Bolt listener is made with."""

    def __init__(self, *, inflight: InFlight, metrics: Metrics, replies: ReplySender) -> None:
        self._inflight = inflight
        self._metrics = metrics
        self._replies = replies
        # Called with (Slack user id, outcome) after each command, click or form has run: the
        # App Home refreshes the Home tab of moderators who acted (bot/slack/home.py).
        self.after_work: Callable[[str, str], None] | None = None
        # Where a reply goes when the payload has no response_url (buttons on the Home tab).
        self.direct: Callable[[str, Reply], Awaitable[None]] | None = None

    def wrap(self, name: str, work: Work, fast: Fast | None = None) -> Listener:
        """`name` is `/kick` for a slash command, the action id for a button; metrics count it
        without the slash."""
        inflight, metrics, replies = self._inflight, self._metrics, self._replies
        label = name.removeprefix("/")

        async def listener(ack: Any, body: Payload) -> None:
            # Tracked from before the ack, so "the HTTP ack arrived" implies "the work is counted".
            async with inflight.track():
                await ack()
                if fast is not None and await self._fast(name, fast, body):
                    return
                async with inflight.slot():
                    started = time.perf_counter()
                    new_request_id()
                    log.info("%s from %s", name, _user_id(body))
                    try:
                        answer = await work(body)
                    except Exception:
                        ref = secrets.token_hex(4)
                        log.exception("listener %s failed (ref %s)", name, ref)
                        answer = Answer(Reply(INTERNAL_ERROR.format(ref=ref), outcome="error"))
                    url = str(body.get("response_url") or "")
                    if not url and self.direct is not None and _user_id(body):
                        # A button on the Home tab: no response_url, so the app's DM.
                        await self.direct(_user_id(body), answer.reply)
                    else:
                        await replies.send(
                            url, answer.reply, replace_original=answer.replace_original
                        )
                    metrics.commands.labels(label, answer.reply.outcome).inc()
                    metrics.command_seconds.labels(label).observe(time.perf_counter() - started)
                    self._after(_user_id(body), answer.reply.outcome)

        listener.__name__ = f"listener_{label}"
        return listener

    async def _fast(self, name: str, fast: Fast, body: Payload) -> bool:
        """Run `fast` outside the post-ack limit; True when it answered the request."""
        started = time.perf_counter()
        new_request_id()
        try:
            answer = await fast(body)
        except Exception:
            log.exception("fast path of %s failed; the usual path answers", name)
            return False
        if answer is None:
            return False
        label = name.removeprefix("/")
        if answer.reply.text:
            await self._replies.send(
                str(body.get("response_url") or ""),
                answer.reply,
                replace_original=answer.replace_original,
            )
        self._metrics.commands.labels(label, answer.reply.outcome).inc()
        self._metrics.command_seconds.labels(label).observe(time.perf_counter() - started)
        return True

    def form(self, forms: Forms) -> Listener:
        """A ban form's view_submission (see `submission`)."""
        return self.submission("ban_form", forms.check_ban, forms.run, forms.tell)

    def submission(
        self,
        label: str,
        check: Callable[[Payload], Awaitable[Submission | dict[str, str]]],
        run: Callable[[Submission], Awaitable[Reply]],
        tell: Callable[[str, str | None, Reply], Awaitable[None]],
    ) -> Listener:
        """A form's view_submission: checked and answered within Slack's 3 s (field errors
        stay in the form), then run after the ack within the post-ack limit."""
        inflight, metrics = self._inflight, self._metrics

        async def listener(ack: Any, body: Payload) -> None:
            async with inflight.track():
                new_request_id()
                try:
                    checked = await check(body)
                except Exception:
                    ref = secrets.token_hex(4)
                    log.exception("%s check failed (ref %s)", label, ref)
                    await ack(
                        response_action="errors",
                        errors={"user": f"callmod hit an internal error (ref {ref}); try again."},
                    )
                    metrics.commands.labels(label, "error").inc()
                    return
                if not isinstance(checked, Submission):
                    await ack(response_action="errors", errors=checked)
                    metrics.commands.labels(label, "invalid").inc()
                    return
                await ack()
                async with inflight.slot():
                    started = time.perf_counter()
                    log.info("%s from %s", label, checked.actor.user_id)
                    try:
                        reply = await run(checked)
                        outcome = reply.outcome
                    except Exception:
                        ref = secrets.token_hex(4)
                        log.exception("%s failed (ref %s)", label, ref)
                        error = Reply(INTERNAL_ERROR.format(ref=ref), outcome="error")
                        await tell(checked.actor.user_id, checked.channel_id, error)
                        outcome = "error"
                    metrics.commands.labels(label, outcome).inc()
                    metrics.command_seconds.labels(label).observe(time.perf_counter() - started)
                    self._after(checked.actor.user_id, outcome)

        return listener

    def quiet(self, name: str, work: Callable[[Payload], Awaitable[None]]) -> Listener:
        """A listener that answers nothing after its ack (a form field redrawn, the Home tab
        published): counted in flight, failures logged, never shown."""
        inflight = self._inflight

        async def listener(ack: Any, body: Payload) -> None:
            async with inflight.track():
                await ack()
                new_request_id()
                try:
                    await work(body)
                except Exception:
                    log.exception("%s failed", name)

        listener.__name__ = f"listener_{name}"
        return listener

    def _after(self, user_id: str, outcome: str) -> None:
        """Tell `after_work` (the Home tab's refresh) that `user_id` did something."""
        if self.after_work is not None and user_id:
            try:
                self.after_work(user_id, outcome)
            except Exception:
                log.exception("after-work hook failed")


def build_bolt_app(
    *,
    client: AsyncWebClient,
    signing_secret: str,
    dispatcher: Dispatcher,
    listeners: Listeners,
    home: AppHome | None = None,
) -> AsyncApp:
    names.check_prefix(dispatcher.prefix, (command.name for command in dispatcher.registry))
    app = AsyncApp(client=client, signing_secret=signing_secret, process_before_response=False)

    forms = Forms(dispatcher, client)
    action_forms = ActionForms(dispatcher, client, forms)
    for name in [*(command.name for command in dispatcher.registry), names.MOD]:
        opener = _open_ban_form(forms) if name == "ban" else None
        if name in CALL_ACTIONS:  # /mute, /kick, /grant, /revoke with nothing or a user
            opener = _open_action_form(action_forms, name)
        listener = listeners.wrap(f"/{name}", _slash(name, dispatcher), opener)
        # With MOD_COMMAND_PREFIX both names are answered: Slack sends only the names the
        # manifest declares, and a switch of manifest and setting need not happen at once.
        for slash in dict.fromkeys([f"/{name}", names.slash(name, dispatcher.prefix)]):
            app.command(slash)(listener)
    app.action(CONFIRM_ACTION)(listeners.wrap(CONFIRM_ACTION, _confirm(dispatcher)))
    app.action(CANCEL_ACTION)(listeners.wrap(CANCEL_ACTION, _cancel(dispatcher)))
    # Buttons and overflow-menu options carrying a command line (the roster's row menus).
    app.action(COMMAND_ACTIONS)(listeners.wrap(COMMAND_ACTION, _run_line(dispatcher)))
    for action_id in [*dispatcher.registry.buttons, UNDO_ACTION]:
        opener = _ban_button_form(forms) if action_id == BAN_BUTTON else None
        app.action(blocks.repeatable(action_id))(
            listeners.wrap(action_id, _button(action_id, dispatcher), opener)
        )
    app.view(BAN_FORM)(listeners.form(forms))

    @app.options(USER_ACTION)
    async def user_options(ack: Any, body: Payload) -> None:
        await ack(options=await forms.user_options(body))

    _wire_action_form(app, listeners, dispatcher, forms, action_forms)
    if home is not None:
        listeners.after_work = home.after_action
        app.event("app_home_opened")(listeners.quiet("app_home_opened", home.on_opened))

    @app.error
    async def on_error(error: Exception) -> None:
        log.error("unhandled error in a Bolt listener: %s", type(error).__name__, exc_info=error)

    return app


def _wire_action_form(
    app: AsyncApp,
    listeners: Listeners,
    dispatcher: Dispatcher,
    forms: Forms,
    action_forms: ActionForms,
) -> None:
    """The action form's submission, field changes, pickers and openers (issue 14)."""
    app.view(ACTION_FORM)(
        listeners.submission("action_form", action_forms.check, action_forms.run, forms.tell)
    )
    app.action(re.compile(f"^{FIELD_PREFIX}"))(listeners.quiet("form_field", action_forms.refresh))

    @app.options(FIELD_USER)
    async def form_users(ack: Any, body: Payload) -> None:
        await ack(options=await action_forms.user_options(body))

    @app.options(FIELD_CALL)
    async def form_calls(ack: Any, body: Payload) -> None:
        await ack(options=await action_forms.call_options(body))

    app.action(OPEN_BUTTON)(
        listeners.wrap(OPEN_BUTTON, _form_button_typed(), _form_button(action_forms))
    )
    shortcuts = Shortcuts(dispatcher, action_forms, app.client)
    app.shortcut(GLOBAL_SHORTCUT)(listeners.quiet(GLOBAL_SHORTCUT, shortcuts.on_global))
    app.shortcut(MESSAGE_SHORTCUT)(listeners.quiet(MESSAGE_SHORTCUT, shortcuts.on_message))

    async def direct(user_id: str, reply: Reply) -> None:
        await forms.tell(user_id, None, reply)

    listeners.direct = direct


def _open_action_form(forms: ActionForms, name: str) -> Fast:
    """`/kick` (/mute, /grant, /revoke) with nothing or only a user, and a trigger_id: the
    action form, that action chosen, instead of the usage."""

    async def fast(body: Payload) -> Answer | None:
        opens, target = forms.prefill_of(blocks.unescape(str(body.get("text") or "")))
        trigger_id = str(body.get("trigger_id") or "")
        if not opens or not trigger_id:
            return None
        reply = await forms.open(
            trigger_id,
            FormState(action=name, user=target, channel=str(body.get("channel_id") or "") or None),
            user_id=str(body.get("user_id", "")),
            user_name=str(body.get("user_name") or body.get("user_id", "")),
            again=str(body.get("command") or f"/{name}"),
        )
        return None if reply is None else Answer(reply)

    return fast


def _form_button(forms: ActionForms) -> Fast:
    """Mute… on a roster row, with a trigger_id: the form with the row's user and call."""

    async def fast(body: Payload) -> Answer | None:
        trigger_id = str(body.get("trigger_id") or "")
        try:
            data = blocks.decode_value(_action_value(body))
        except ValueError:
            return None
        user = body.get("user") or {}
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        action = str(data.get("a") or "mute")
        state = FormState(
            action=action if action in CALL_ACTIONS else "mute",
            user=str(data.get("u") or "") or None,
            call=str(data.get("c") or "") or None,
            channel=str(channel) if channel else None,
        )
        reply = await forms.open(
            trigger_id,
            state,
            user_id=str(user.get("id", "")),
            user_name=_user_name(user),
            again="Mute…",
        )
        return None if reply is None else Answer(reply)

    return fast


def _form_button_typed() -> Work:
    """Mute… (Moderate… on a user card) without a trigger_id (or for someone without the
    role): how to type it."""

    async def work(body: Payload) -> Answer:
        try:
            data = blocks.decode_value(_action_value(body))
            user, call = str(data["u"]), str(data.get("c") or "<call>")
        except (ValueError, KeyError):
            return Answer(Reply(":warning: That button no longer works; nothing was changed."))
        line = f"/mute {user} {call} audio video"
        return Answer(
            Reply(
                f"The form could not open here; type `{blocks.escape(line)}` (tracks: audio, "
                "video, screenshare, screenshare_audio, all). Nothing was changed.",
                outcome="usage",
            )
        )

    return work


def _slash(name: str, dispatcher: Dispatcher) -> Work:
    async def work(body: Payload) -> Answer:
        # Slack sends the typed text with & < > as entities; decoded once, here, so parsing,
        # limits and what Stream stores all see what the moderator typed.
        reply = await dispatcher.run_slash(
            name,
            blocks.unescape(str(body.get("text") or "")),
            user_id=str(body.get("user_id", "")),
            user_name=str(body.get("user_name") or body.get("user_id", "")),
        )
        return Answer(reply)

    return work


def _open_ban_form(forms: Forms) -> Fast:
    """`/ban` with nothing or only a user, and a trigger_id: the form instead of the usage."""

    async def fast(body: Payload) -> Answer | None:
        opens, target = forms.prefill_of(blocks.unescape(str(body.get("text") or "")))
        trigger_id = str(body.get("trigger_id") or "")
        if not opens or not trigger_id:
            return None
        reply = await forms.open_ban(
            trigger_id,
            user_id=str(body.get("user_id", "")),
            user_name=str(body.get("user_name") or body.get("user_id", "")),
            channel_id=str(body.get("channel_id") or "") or None,
            target=target,
            again=str(body.get("command") or "/ban"),
        )
        return None if reply is None else Answer(reply)

    return fast


def _ban_button_form(forms: Forms) -> Fast:
    """Ban… with a trigger_id: the form pre-filled with the row's user (the call plays no part
    in a ban); without one, or for someone without the role, its duration buttons."""

    async def fast(body: Payload) -> Answer | None:
        trigger_id = str(body.get("trigger_id") or "")
        opens, target = forms.prefill_of(_action_value(body))
        if not trigger_id or not opens or target is None:
            return None
        user = body.get("user") or {}
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        reply = await forms.open_ban(
            trigger_id,
            user_id=str(user.get("id", "")),
            user_name=_user_name(user),
            channel_id=str(channel) if channel else None,
            target=target,
            again="Ban…",
        )
        return None if reply is None else Answer(reply)

    return fast


def _confirm(dispatcher: Dispatcher) -> Work:
    async def work(body: Payload) -> Answer:
        user = body.get("user") or {}
        reply = await dispatcher.confirmed(
            _action_value(body), user_id=str(user.get("id", "")), user_name=_user_name(user)
        )
        return Answer(reply, replace_original=True)

    return work


def _cancel(dispatcher: Dispatcher) -> Work:
    async def work(body: Payload) -> Answer:
        user = body.get("user") or {}
        reply = await dispatcher.cancelled(
            _action_value(body), user_id=str(user.get("id", "")), user_name=_user_name(user)
        )
        return Answer(reply, replace_original=True)

    return work


def _run_line(dispatcher: Dispatcher) -> Work:
    async def work(body: Payload) -> Answer:
        user = body.get("user") or {}
        reply = await dispatcher.run_line(
            _action_value(body), user_id=str(user.get("id", "")), user_name=_user_name(user)
        )
        return Answer(reply)

    return work


def _button(action_id: str, dispatcher: Dispatcher) -> Work:
    async def work(body: Payload) -> Answer:
        user = body.get("user") or {}
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        reply, replace = await dispatcher.click(
            action_id,
            _action_value(body),
            user_id=str(user.get("id", "")),
            user_name=_user_name(user),
            channel_id=str(channel) if channel else None,
            message_ts=container.get("message_ts"),
        )
        return Answer(reply, replace_original=replace)

    return work


def _action_value(body: Payload) -> str:
    """A button's `value`, or the `value` of the option picked in an overflow menu."""
    action = (body.get("actions") or [{}])[0]
    if action.get("type") == "overflow" or "selected_option" in action:
        return str((action.get("selected_option") or {}).get("value", ""))
    return str(action.get("value", ""))


def _user_id(body: Payload) -> str:
    return str(body.get("user_id") or (body.get("user") or {}).get("id") or "")


def _user_name(user: dict[str, Any]) -> str:
    return str(user.get("username") or user.get("name") or user.get("id") or "someone")
