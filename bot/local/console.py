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

from bot.core.parsing import UsageError, parse_call, parse_duration, parse_permissions, parse_user
from bot.local.fake_slack import ApiCall, PostedMessage, ResponsePost
from bot.local.stack import (
    ADMIN,
    LOG_CHANNEL,
    MODERATOR,
    OUTSIDER,
    REQUESTS_CHANNEL,
    LocalStack,
    Person,
)
from bot.util.clock import OffsetClock

PEOPLE = {"admin": ADMIN, "moderator": MODERATOR, "outsider": OUTSIDER}
CHANNEL_NAMES = {LOG_CHANNEL: "#mod-log", REQUESTS_CHANNEL: "#mod-requests"}

HELP = """\
Type slash commands as in Slack, e.g. /kick sara call-123   (/mod help lists them all)
  --as admin|moderator|outsider|U…   who is typing from now on (or put it before one command)
  click N                            press button [N]
  :request <user> <call> <audio|video|screenshare>…   a user in the call asks for a permission
  :advance <duration>                move the clock forward (e.g. :advance 30m) to watch bans expire
  :call [call]                       show the emulator's view of a call (default call-123)
  help                               this text;  quit  leaves
The demo call default:call-123 has sara, john, alice and bob in it."""


@dataclass
class ShownButton:
    label: str
    action_id: str
    value: str
    message: PostedMessage | None
    response_key: str | None
    live: bool = True


class Console:
    def __init__(self, stack: LocalStack, clock: OffsetClock, out: TextIO = sys.stdout) -> None:
        self.stack = stack
        self.clock = clock
        self.out = out
        self.who: Person = ADMIN
        self.buttons: list[ShownButton] = []
        self._names = {p.user_id: p.user_name for p in (ADMIN, MODERATOR, OUTSIDER)}

    # -- output ----------------------------------------------------------------------------------

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def on_slack(self, event: Any) -> None:
        if isinstance(event, ApiCall):
            return
        if isinstance(event, ResponsePost):
            if event.status != 200:
                return
            for button in self.buttons:
                if event.replace_original and button.response_key == event.key:
                    button.live = False
            where = "only you" + (", replacing the message" if event.replace_original else "")
            self._show(where, event.text, event.blocks, None, event.key)
        elif isinstance(event, PostedMessage):
            channel = CHANNEL_NAMES.get(event.channel, event.channel)
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
        body = _blocks_text(blocks) or text
        lines = self.render(body).splitlines() or [""]
        self.print(f"  [{where}] {lines[0]}")
        for line in lines[1:]:
            self.print(f"      {line}")
        labels = []
        for label, action_id, value in _buttons(blocks):
            self.buttons.append(ShownButton(label, action_id, value, message, response_key))
            labels.append(f"[{len(self.buttons)}] {label}")
        if labels:
            self.print("      " + "  ".join(labels) + "   (type: click N)")

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
            elif line.startswith(":request"):
                await self._request(line)
            elif line.startswith(":advance"):
                await self._advance(line)
            elif line.startswith(":call"):
                self._call(line)
            else:
                self.print("  Not a command. Type `help`.")
        except UsageError as error:
            self.print(f"  {error}")
        return True

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
        await self.stack.driver.click(
            action_id=button.action_id,
            value=button.value,
            user_id=self.who.user_id,
            user_name=self.who.user_name,
            message=button.message,
            response_key=button.response_key,
            text=button.label,
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
        self.print(f"      blocked: {', '.join(sorted(state.blocked)) or '-'}")
        muted = {u: sorted(t) for u, t in state.muted.items() if t}
        self.print(f"      muted: {muted or '-'}")
        share = state.screensharing
        self.print(
            f"      screen sharing: {'on' if share.enabled else 'off'}"
            f"{' (by request)' if share.access_request_enabled else ''}"
        )


def _blocks_text(blocks: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for block in blocks:
        if block.get("type") == "section":
            parts.append(str((block.get("text") or {}).get("text", "")))
        elif block.get("type") == "context":
            parts += [str(e.get("text", "")) for e in block.get("elements", [])]
    return "\n".join(parts)


def _buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    found = []
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button":
                label = str((element.get("text") or {}).get("text", ""))
                found.append((label, str(element.get("action_id")), str(element.get("value"))))
    return found


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
