"""The local console: type `/kick sara call-123` and see what Slack would show.

It runs the real callmod (Bolt app, registry, handlers) against the embedded Stream emulator and
the recording fake Slack. Every line becomes a request signed exactly as Slack signs it; replies,
channel posts and buttons come back as text. Reads a script from stdin when it is not a terminal.
"""

from __future__ import annotations

import asyncio
import html
import re
import shlex
import sys
import threading
from dataclasses import dataclass
from typing import Any, TextIO

from bot.core.parsing import (
    UsageError,
    parse_call,
    parse_duration,
    parse_permissions,
    parse_tracks,
    parse_user,
)
from bot.local import console_alerts
from bot.local.emulator import Invalid, NotFound
from bot.local.fake_slack import ApiCall, OpenedView, PostedMessage, PublishedHome, ResponsePost
from bot.local.stack import (
    ADMIN,
    LOG_CHANNEL,
    MODERATOR,
    OUTSIDER,
    REQUESTS_CHANNEL,
    LocalStack,
    Person,
)
from bot.slack.shortcuts import GLOBAL_SHORTCUT, MESSAGE_SHORTCUT
from bot.stream import CallRef
from bot.util.clock import OffsetClock

PEOPLE = {"admin": ADMIN, "moderator": MODERATOR, "outsider": OUTSIDER}
CHANNEL_NAMES = {LOG_CHANNEL: "#mod-log", REQUESTS_CHANNEL: "#mod-requests"}

HELP = """\
Type slash commands as in Slack, e.g. /kick sara call-123   (/mod help lists them all)
  --as admin|moderator|outsider|U…   who is typing from now on (or put it before one command)
  click N                            press button [N], or pick menu option [N] (after ⋮)
  :request <user> <call> <audio|video|screenshare>…   a user in the call asks for a permission
  :join <user> <call> [audio] [video] [screenshare]   a user joins the call, publishing those
  :leave <user> <call>               a user leaves the call
{alerts}
  :advance <duration>                move the clock forward (e.g. :advance 30m) to watch bans expire
  :call [call]                       show the emulator's view of a call (default call-123)
  :form field=value …                fill the open form (e.g. :form user=sara duration=2h
                                     reason="spam"); `:form` alone shows it;  submit  sends it
  :home                              open the Home tab (what callmod shows you there)
  :shortcut                          the "Moderate a call…" shortcut (opens the action form)
  :moderate                          "Moderate…" on the last channel message callmod posted
  help                               this text;  quit  leaves
The demo call default:call-123 has sara (audio, video), john (audio), alice and bob in it."""
HELP = HELP.replace("{alerts}", console_alerts.HELP)


@dataclass
class ShownButton:
    label: str
    action_id: str
    value: str
    message: PostedMessage | None
    response_key: str | None
    live: bool = True
    element: str = "button"  # or "overflow": an option of an overflow menu


class Console:
    def __init__(self, stack: LocalStack, clock: OffsetClock, out: TextIO = sys.stdout) -> None:
        self.stack = stack
        self.clock = clock
        self.out = out
        self.who: Person = ADMIN
        self.buttons: list[ShownButton] = []
        self._names = {p.user_id: p.user_name for p in (ADMIN, MODERATOR, OUTSIDER)}
        # Slack gives every click its own response_url (each good for 5 posts): a click's key ->
        # the key of the ephemeral message clicked, which a `replace_original` answer replaces.
        self._clicked: dict[str, str] = {}
        self.form: OpenedView | None = None  # the modal last opened, until submitted
        self.form_values: dict[str, str] = {}  # block_id -> value chosen or typed
        self._home_wanted = False  # :home prints the next Home tab published for `who`

    # -- output ----------------------------------------------------------------------------------

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def on_slack(self, event: Any) -> None:
        if isinstance(event, ApiCall):
            return
        if isinstance(event, PublishedHome):
            if self._home_wanted and event.user_id == self.who.user_id:
                self._home_wanted = False
                self._show("home tab", "", event.blocks, None, None)
            return
        if isinstance(event, OpenedView):
            self.form = event
            self.form_values = _initial_values(event.view)
            self._show_form()
            return
        if isinstance(event, ResponsePost):
            if event.status != 200:
                return
            shown = event.key
            if event.replace_original:
                shown = self._clicked.get(event.key, event.key)
                for button in self.buttons:
                    if button.response_key == shown:
                        button.live = False
            where = "only you" + (", replacing the message" if event.replace_original else "")
            self._show(where, event.text, event.blocks, None, shown)
        elif isinstance(event, PostedMessage):
            channel = CHANNEL_NAMES.get(event.channel, event.channel)
            if event.ephemeral:
                channel = "only you"
            edited = bool(event.history)
            for button in self.buttons:
                if button.message is event:
                    button.live = False
            self._show(
                f"{channel}{', edited' if edited else ''}", event.text, event.blocks, event, None
            )

    def _show(
        self,
        where: str,
        text: str,
        blocks: list[dict[str, Any]],
        message: PostedMessage | None,
        response_key: str | None,
    ) -> None:
        """Each block's text, then its buttons (an overflow menu's options as buttons after
        `⋮`), numbered for `click N`."""
        lines: list[str] = []
        last_buttons = -1
        segments = _segments(blocks)
        if not any(isinstance(segment, str) and segment for segment in segments):
            segments.insert(0, text)
        for segment in segments:
            if isinstance(segment, str):
                lines += self.render(segment).splitlines()
                continue
            labels = []
            for label, action_id, value, element in segment:
                shown = ShownButton(label, action_id, value, message, response_key, True, element)
                self.buttons.append(shown)
                labels.append(f"[{len(self.buttons)}] {label}")
            menu = segment[0][3] == "overflow"
            lines.append(("⋮ " if menu else "") + "  ".join(labels))
            last_buttons = len(lines) - 1
        if last_buttons >= 0:
            lines[last_buttons] += "   (type: click N)"
        lines = lines or [""]
        self.print(f"  [{where}] {lines[0]}")
        for line in lines[1:]:
            self.print(f"      {line}")

    def render(self, mrkdwn: str) -> str:
        text = re.sub(r"<!date\^\d+\^[^|>]*\|([^>]*)>", r"\1", mrkdwn)
        text = re.sub(r"<@(U[A-Z0-9]+)>", lambda m: "@" + self._names.get(m[1], m[1]), text)
        return html.unescape(text.replace("&amp;", "&amp;amp;")).replace("&amp;", "&")

    # -- input -----------------------------------------------------------------------------------

    async def handle(self, line: str) -> bool:
        """Run one typed line; False means quit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line in ("quit", "exit", ":q"):
            return False
        if line in ("help", ":help", "?"):
            self.print(HELP)
            return True
        if line.startswith("--as"):
            parts = line.split(maxsplit=2)
            if len(parts) < 2:
                self.print("  usage: --as admin|moderator|outsider|U… [/command …]")
                return True
            self.who = self._person(parts[1])
            self.print(f"  (typing as @{self.who.user_name}, {self.who.user_id})")
            if len(parts) == 3:
                await self.handle(parts[2])
            return True
        try:
            if line.startswith("/"):
                await self.stack.slash(line, self.who)
            elif line.startswith("click"):
                await self._click(line)
            elif line.split()[0] in console_alerts.WORDS:
                self.print(console_alerts.raise_finding(self.stack.emulator, line))
                await self.stack.idle()
            elif line.startswith(":request"):
                await self._request(line)
            elif line.startswith(":join"):
                await self._join(line)
            elif line.startswith(":leave"):
                await self._leave(line)
            elif line.startswith(":advance"):
                await self._advance(line)
            elif line.startswith(":call"):
                self._call(line)
            elif line.startswith(":form"):
                await self._fill(line)
            elif line == "submit":
                await self._submit()
            elif line in (":home", ":shortcut", ":moderate"):
                await self._surface(line)
            else:
                self.print("  Not a command. Type `help`.")
        except UsageError as error:
            self.print(f"  {error}")
        return True

    # -- forms (modals) ----------------------------------------------------------------------

    def _show_form(self) -> None:
        if self.form is None:
            self.print("  (no form is open)")
            return
        view = self.form.view
        title = _plain_of(view.get("title"))
        self.print(f"  [form] *{title}*   (fill: :form field=value …, then: submit)")
        for block in view.get("blocks") or []:
            block_id = str(block.get("block_id") or "")
            if block.get("type") == "input":
                element = block.get("element") or {}
                label = _plain_of(block.get("label"))
                chosen = self.form_values.get(block_id) or "—"
                extra = ""
                if element.get("type") == "static_select":
                    values = [str(o.get("value")) for o in element.get("options") or []]
                    extra = f"   one of: {' '.join(values)}"
                elif element.get("type") == "checkboxes":
                    values = [str(o.get("value")) for o in element.get("options") or []]
                    extra = f"   any of (comma-separated): {','.join(values)}"
                elif element.get("type") == "external_select" and block_id == "call":
                    extra = "   (a live call or a call id; :form call=? lists the live ones)"
                elif element.get("type") == "external_select":
                    extra = "   (a Stream user id or name; :form user=sa? lists matches)"
                optional = " (optional)" if block.get("optional") else ""
                self.print(f"      {block_id}: {label}{optional} = {chosen}{extra}")
            else:
                for text in _texts_of(block):
                    self.print(f"      {self.render(text)}")

    async def _fill(self, line: str) -> None:
        if self.form is None:
            raise UsageError("no form is open: /ban opens one")
        words = shlex.split(line)[1:]
        blocks = {str(b.get("block_id")): b for b in self.form.view.get("blocks") or []}
        redraw: dict[str, Any] | None = None
        for word in words:
            field, sep, value = word.partition("=")
            if not sep or field not in blocks or blocks[field].get("type") != "input":
                fields = ", ".join(k for k, b in blocks.items() if b.get("type") == "input")
                raise UsageError(f"usage: :form field=value …, fields: {fields}")
            if blocks[field]["element"].get("type") == "external_select" and value.endswith("?"):
                await self._suggest(blocks[field], value[:-1])
                continue
            self.form_values[field] = value
            if blocks[field].get("dispatch_action"):
                redraw = blocks[field]
        if redraw is not None and self.stack.driver is not None and self.form is not None:
            # A field whose change redraws the form (the action form): Slack's block_actions.
            await self.stack.driver.pick_in_view(
                self.form.id,
                self._state(),
                block_id=str(redraw.get("block_id")),
                action_id=str(redraw["element"].get("action_id")),
                user_id=self.who.user_id,
                user_name=self.who.user_name,
            )
            await self.stack.idle()
            return
        self._show_form()

    async def _suggest(self, block: dict[str, Any], prefix: str) -> None:
        """What Slack loads into the external select as `prefix` is typed (block_suggestion)."""
        if self.form is None or self.stack.driver is None:
            return
        _, options = await self.stack.driver.suggest(
            self.form.id,
            action_id=str(block["element"]["action_id"]),
            block_id=str(block.get("block_id")),
            value=prefix,
            user_id=self.who.user_id,
            user_name=self.who.user_name,
        )
        shown = ", ".join(_plain_of(o.get("text")) for o in options[:20]) or "none"
        self.print(f"  (users matching {prefix!r}: {shown})")

    async def _submit(self) -> None:
        if self.form is None:
            raise UsageError("no form is open: /ban opens one")
        assert self.stack.driver is not None
        _, answer = await self.stack.driver.submit_view(
            self.form.id, self._state(), user_id=self.who.user_id, user_name=self.who.user_name
        )
        if answer and answer.get("response_action") == "errors":
            for field, sentence in (answer.get("errors") or {}).items():
                self.print(f"  [form] {field}: {sentence}")
            return
        self.print("  (the form closed)")
        self.form = None
        await self.stack.idle()

    def _state(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The open form's `view.state.values`, as Slack sends them, from what was filled."""
        assert self.form is not None
        state: dict[str, dict[str, dict[str, Any]]] = {}
        for block in self.form.view.get("blocks") or []:
            if block.get("type") != "input":
                continue
            block_id = str(block.get("block_id"))
            element = block.get("element") or {}
            value = self.form_values.get(block_id) or None
            kind = str(element.get("type"))
            if kind == "plain_text_input":
                entry: dict[str, Any] = {"type": kind, "value": value}
            elif kind == "checkboxes":  # `:form tracks=audio,video`
                ticked = [{"value": v} for v in (value or "").split(",") if v]
                entry = {"type": kind, "selected_options": ticked}
            else:
                option = None if value is None else {
                    "text": {"type": "plain_text", "text": value}, "value": value
                }
                entry = {"type": kind, "selected_option": option}
            state[block_id] = {str(element.get("action_id")): entry}
        return state

    async def _surface(self, line: str) -> None:
        """The Home tab and the shortcuts (issue 14), as Slack delivers them."""
        driver, who = self.stack.driver, self.who
        assert driver is not None
        if line == ":home":
            self._home_wanted = True
            await driver.home_opened(who.user_id)
        elif line == ":shortcut":
            await driver.shortcut(GLOBAL_SHORTCUT, user_id=who.user_id, user_name=who.user_name)
        else:
            posted = [m for m in self.stack.slack.messages if not m.ephemeral and not m.deleted]
            if not posted:
                raise UsageError("no channel message yet: run a command first")
            await driver.message_shortcut(
                MESSAGE_SHORTCUT, user_id=who.user_id, user_name=who.user_name, message=posted[-1]
            )
        await self.stack.idle()

    def _person(self, name: str) -> Person:
        if name in PEOPLE:
            return PEOPLE[name]
        user_id = name.upper()
        self._names.setdefault(user_id, user_id.lower())
        return Person(user_id, self._names[user_id])

    async def _click(self, line: str) -> None:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or not 1 <= int(parts[1]) <= len(self.buttons):
            raise UsageError(f"usage: click N, with N from 1 to {len(self.buttons)}")
        button = self.buttons[int(parts[1]) - 1]
        if not button.live:
            raise UsageError(f"button [{parts[1]}] is no longer on screen")
        assert self.stack.driver is not None
        key = button.response_key
        if button.message is None and key is not None:
            key, clicked = self.stack.slack.new_response_key(), key
            self._clicked[key] = clicked
        await self.stack.driver.click(
            action_id=button.action_id,
            value=button.value,
            user_id=self.who.user_id,
            user_name=self.who.user_name,
            message=button.message,
            response_key=key,
            text=button.label,
            element=button.element,
        )
        await self.stack.idle()

    async def _request(self, line: str) -> None:
        words = shlex.split(line)[1:]
        if len(words) < 3:
            raise UsageError("usage: :request <user> <call> <audio|video|screenshare>…")
        user = parse_user(words[0])
        call = parse_call(words[1], "default")
        permissions = parse_permissions(words[2:])
        if call.cid not in self.stack.emulator.state.calls:
            raise UsageError(f"the emulator has no call {call.cid}")
        if user not in self.stack.emulator.state.users:
            self.stack.emulator.add_user(user)
        await self.stack.emulator.raise_permission_request(call.cid, user, list(permissions))
        self.print(f"  (the emulator sent a signed call.permission_request for {user})")
        await self.stack.idle()

    async def _join(self, line: str) -> None:
        words = shlex.split(line)[1:]
        if len(words) < 2:
            raise UsageError("usage: :join <user> <call> [audio] [video] [screenshare]")
        user = parse_user(words[0])
        call = self._emulated_call(words[1])
        tracks = parse_tracks(words[2:], allow_all=False) if words[2:] else ()
        emulator = self.stack.emulator
        if user not in emulator.state.users:
            emulator.add_user(user, user.capitalize())
        try:
            await emulator.join(call.cid, user, tracks)
        except (Invalid, NotFound) as refusal:
            raise UsageError(f"the emulator refused: {refusal}") from None
        publishing = f", publishing {' and '.join(tracks)}" if tracks else ""
        self.print(f"  ({user} joined {call.cid}{publishing})")
        await self.stack.idle()

    async def _leave(self, line: str) -> None:
        words = shlex.split(line)[1:]
        if len(words) != 2:
            raise UsageError("usage: :leave <user> <call>")
        user = parse_user(words[0])
        call = self._emulated_call(words[1])
        try:
            await self.stack.emulator.leave(call.cid, user)
        except (Invalid, NotFound) as refusal:
            raise UsageError(f"the emulator refused: {refusal}") from None
        self.print(f"  ({user} left {call.cid})")
        await self.stack.idle()

    def _emulated_call(self, word: str) -> CallRef:
        call = parse_call(word, "default")
        if call.cid not in self.stack.emulator.state.calls:
            raise UsageError(f"the emulator has no call {call.cid}")
        return call

    async def _advance(self, line: str) -> None:
        words = line.split()
        if len(words) != 2:
            raise UsageError("usage: :advance <duration>, e.g. :advance 30m")
        duration = parse_duration(words[1])
        await self.clock.advance(duration.total_seconds())
        self.print(f"  (the clock moved forward {words[1]})")
        await self.stack.idle()

    def _call(self, line: str) -> None:
        words = line.split()
        call = parse_call(words[1] if len(words) > 1 else "call-123", "default")
        state = self.stack.emulator.state.calls.get(call.cid)
        if state is None:
            raise UsageError(f"the emulator has no call {call.cid}")
        self.print(f"  {call.cid}: in the call: {', '.join(sorted(state.participants)) or '-'}")
        publishing: dict[str, set[str]] = {}
        for participant in state.connected():
            publishing.setdefault(participant.user_id, set()).update(participant.tracks)
        shown = [f"{u} {', '.join(sorted(t))}" for u, t in sorted(publishing.items()) if t]
        self.print(f"      publishing: {'; '.join(shown) or '-'}")
        if state.ended_at is not None:
            self.print("      the call has ended")
        self.print(f"      blocked: {', '.join(sorted(state.blocked)) or '-'}")
        muted = {u: sorted(t) for u, t in state.muted.items() if t}
        self.print(f"      muted: {muted or '-'}")
        share = state.screensharing
        self.print(
            f"      screen sharing: {'on' if share.enabled else 'off'}"
            f"{' (by request)' if share.access_request_enabled else ''}"
        )


Shown = tuple[str, str, str, str]  # label, action id, value, element ("button" or "overflow")


def _plain_of(node: object) -> str:
    text = node.get("text") if isinstance(node, dict) else None
    return text if isinstance(text, str) else ""


def _texts_of(block: dict[str, Any]) -> list[str]:
    if block.get("type") == "context":
        return [_plain_of(e) for e in block.get("elements") or [] if _plain_of(e)]
    text = _plain_of(block.get("text"))
    return [text] if text else []


def _initial_values(view: dict[str, Any]) -> dict[str, str]:
    """What a form shows filled in when it opens (its initial options and values)."""
    values = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        initial = element.get("initial_option") or {}
        value = initial.get("value") or element.get("initial_value")
        if element.get("initial_options"):  # checkboxes: the values ticked, comma-separated
            value = ",".join(str(o.get("value")) for o in element["initial_options"])
        if block.get("type") == "input" and value:
            values[str(block.get("block_id"))] = str(value)
    return values


def _segments(blocks: list[dict[str, Any]]) -> list[str | list[Shown]]:
    """A message as the console prints it: runs of text, each followed by the buttons of the
    block it came with (a section's accessory, an actions block's elements)."""
    segments: list[str | list[Shown]] = []
    texts: list[str] = []

    def add_buttons(elements: list[Any]) -> None:
        if texts:
            segments.append("\n".join(texts))
            texts.clear()
        for element in elements:
            shown = _buttons_of(element) if isinstance(element, dict) else []
            if shown:
                segments.append(shown)

    for block in blocks:
        if block.get("type") == "section":
            text = str((block.get("text") or {}).get("text", ""))
            fields = [str(f.get("text", "")) for f in block.get("fields") or []]
            texts.append(" · ".join([t for t in [text, *fields] if t]))
            if isinstance(block.get("accessory"), dict):
                add_buttons([block["accessory"]])
        elif block.get("type") == "context":
            texts += [str(e.get("text", "")) for e in block.get("elements", [])]
        elif block.get("type") == "actions":
            buttons = [e for e in block.get("elements", []) if e.get("type") == "button"]
            menus = [e for e in block.get("elements", []) if e.get("type") == "overflow"]
            add_buttons([{"type": "buttons", "elements": buttons}, *menus])
    if texts:
        segments.append("\n".join(texts))
    return segments


def _buttons_of(element: dict[str, Any]) -> list[Shown]:
    if element.get("type") == "buttons":  # an actions block's buttons, shown on one line
        return [b for e in element["elements"] for b in _buttons_of(e)]
    if element.get("type") == "button":
        label = str((element.get("text") or {}).get("text", ""))
        return [(label, str(element.get("action_id")), str(element.get("value")), "button")]
    if element.get("type") == "overflow":
        action_id = str(element.get("action_id"))
        return [
            (str((o.get("text") or {}).get("text", "")), action_id, str(o.get("value")), "overflow")
            for o in element.get("options", [])
        ]
    return []


async def run_console(
    who: str = "admin", *, stdin: TextIO | None = None, out: TextIO | None = None
) -> int:
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    clock = OffsetClock()
    stack = LocalStack(clock=clock)
    await stack.start()
    console = Console(stack, clock, out)
    unsubscribe = stack.slack.subscribe(console.on_slack)
    console.who = console._person(who)
    interactive = stdin.isatty()
    try:
        await stack.idle()
        console.print("callmod console — the real bot against a local Stream emulator.")
        console.print("Type `help` for what you can do.")
        await _loop(console, stdin, interactive, out)
    finally:
        unsubscribe()
        await stack.stop()
    return 0


async def _loop(console: Console, stdin: TextIO, interactive: bool, out: TextIO) -> None:
    lines = _read_lines(stdin)
    while True:
        if interactive:
            out.write(f"@{console.who.user_name}> ")
            out.flush()
        line = await lines.get()
        if not line:
            return
        if not interactive:
            console.print(f"> {line.rstrip()}")
        if not await console.handle(line):
            return


def _read_lines(stdin: TextIO) -> asyncio.Queue[str]:
    """Lines from stdin, read by a daemon thread: a blocking read must not keep the process
    alive after Ctrl-C, as a read in the loop's default executor would. "" marks the end."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def pump() -> None:
        for line in iter(stdin.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, "")

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    return queue
