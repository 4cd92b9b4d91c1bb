"""The App Home tab (issue 14): one page per moderator, published with `views.publish` when they
open the tab (`app_home_opened`) and again after each of their actions.

    header       who is looking, with which role, as of when
    Live calls   up to 10 calls people are in now, each with a Roster button
    Requests     pending permission requests, each with Approve and Deny
    (sections)   whatever other features add with `AppHome.add_section` — the extension hook
                 for open alerts (issue 15); each gets a place after the requests
    Active bans  up to 10, soonest end first, with the time left; Unban for admins
    Your actions the viewer's last 10 cases, each with History, and Undo while it works

Every button is one callmod already answers elsewhere (the roster line, the request desk's
Approve / Deny, the ban notification's Unban, History, Undo): the role is checked again on each
click, and the answer goes to the clicker's DM with the app (a Home tab has no response_url).
A section that cannot be read (Stream slow or down) says so in one line; the rest still shows.
Someone with no callmod role sees a short explanation and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from cachetools import FIFOCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import CaseStoreError
from bot.core.dispatch import Dispatcher, command_action
from bot.core.model import Actor, Role
from bot.core.parsing import describe_permissions
from bot.moderation.bans.render import UNBAN_ACTION, ban_entry
from bot.moderation.history.render import case_line, history_button
from bot.moderation.permission_requests import APPROVE_ACTION, DENY_ACTION, PermissionDesk
from bot.shared import SharedState, SharedStateError
from bot.slack import blocks
from bot.slack.blocks import Button, code, date_token, escape
from bot.stream import StreamAPIError

log = logging.getLogger("callmod.home")

MAX_HOME_BLOCKS = 100  # Slack: a Home tab view holds at most 100 blocks
SHOWN = 10  # calls, requests, bans and actions: at most this many each
LOOKUP_SECONDS = 2.0
REMEMBERED_VIEWERS = 10_000
VIEWER_SECONDS = 30 * 86_400.0  # with replicas: how long an opened tab is known to all of them
# Outcomes after which the actor's Home tab is published again (something may have changed).
REFRESH_OUTCOMES = frozenset({"done", "failed", "maybe_applied", "error"})
OUTSIDER_TEXT = (
    "*callmod* lets this workspace's moderators moderate Stream Video calls from Slack: mute, "
    "kick, ban, and answer permission requests.\n"
    "You have no callmod role, so there is nothing here for you. If you should be moderating, "
    "ask an admin to add you to `MOD_MODERATORS`."
)

Block = dict[str, Any]


class HomeSection(Protocol):
    """A part of the Home tab. `blocks` gets the viewer (a moderator or admin) and returns the
    section's blocks, a header first; an empty list leaves it out. Keep it to ~20 blocks: the
    whole tab holds 100, and what does not fit is cut with a note."""

    async def blocks(self, viewer: Actor) -> list[Block]: ...


class AppHome:
    def __init__(
        self,
        dispatcher: Dispatcher,
        client: AsyncWebClient,
        *,
        requests: PermissionDesk | None = None,
        team_url: Callable[[], str | None] = lambda: None,
        shared: SharedState | None = None,
    ) -> None:
        """`shared`: the state replicas share, when several run: who opened their tab is kept
        there too, so an action on any replica refreshes the tab opened through another."""
        self._dispatcher = dispatcher
        self._shared = shared
        self._checks: set[asyncio.Task[None]] = set()
        self._client = client
        self._requests = requests
        self._team_url = team_url
        self._extra: list[HomeSection] = []
        # Moderators who opened the tab: only their tabs are refreshed after an action.
        self._viewers: FIFOCache[str, bool] = FIFOCache(REMEMBERED_VIEWERS)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self.published = 0

    def add_section(self, section: HomeSection) -> None:
        """The extension hook: `section` shows after the permission requests (open alerts)."""
        self._extra.append(section)

    # ---- when to publish -------------------------------------------------------------------

    async def on_opened(self, body: dict[str, Any]) -> None:
        """`app_home_opened`: publish the tab for whoever opened it (the Messages tab too
        sends this event; only the Home tab is drawn)."""
        event = body.get("event") or {}
        user_id = str(event.get("user") or "")
        if event.get("tab", "home") != "home" or not user_id:
            return
        self._viewers[user_id] = True
        if self._shared is not None:
            try:
                await self._shared.put(f"home-viewer:{user_id}", "1", VIEWER_SECONDS)
            except SharedStateError as error:  # this replica still refreshes it
                log.warning("could not share that %s opened the Home tab: %s", user_id, error)
        await self.publish(user_id)

    def after_action(self, user_id: str, outcome: str) -> None:
        """After `user_id` ran a command, a click or a form: publish their tab again, once
        however many actions land while one publish is running."""
        if outcome not in REFRESH_OUTCOMES:
            return
        if user_id not in self._viewers:
            if self._shared is not None:  # opened through another replica, perhaps
                check = asyncio.create_task(self._refresh_if_shared(user_id))
                self._checks.add(check)
                check.add_done_callback(self._checks.discard)
            return
        self._refresh(user_id)

    async def _refresh_if_shared(self, user_id: str) -> None:
        assert self._shared is not None
        try:
            opened = await self._shared.get(f"home-viewer:{user_id}")
        except SharedStateError as error:
            log.warning("could not learn whether %s opened the Home tab: %s", user_id, error)
            return
        if opened is not None:
            self._viewers[user_id] = True
            self._refresh(user_id)

    def _refresh(self, user_id: str) -> None:
        if user_id in self._running:
            self._again.add(user_id)
            return
        self._running[user_id] = asyncio.create_task(self._publish_until_current(user_id))

    async def _publish_until_current(self, user_id: str) -> None:
        try:
            while True:
                self._again.discard(user_id)
                await self.publish(user_id)
                if user_id not in self._again:
                    return
        except Exception:
            log.exception("home refresh for %s failed", user_id)
        finally:
            self._running.pop(user_id, None)

    async def idle(self) -> None:
        while self._running or self._checks:
            await asyncio.gather(*self._checks, return_exceptions=True)
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def publish(self, user_id: str) -> bool:
        actor = await self._dispatcher.actor(user_id, user_id)
        view = {"type": "home", "callback_id": "callmod_home", "blocks": await self.render(actor)}
        try:
            await self._client.views_publish(user_id=user_id, view=view)
        except SlackApiError as error:
            log.warning("views.publish for %s failed: %s", user_id, error.response.get("error"))
            return False
        self.published += 1
        return True

    # ---- what the tab shows ----------------------------------------------------------------

    async def render(self, actor: Actor) -> list[Block]:
        if actor.role < Role.MODERATOR:
            return [_header("callmod"), _section(OUTSIDER_TEXT)]
        now = self._dispatcher.context(actor).clock.time()
        top = [
            _header("callmod: moderation"),
            _context(
                f"{blocks.mention(actor.user_id)} · {actor.role.label} · as of "
                f"{date_token(now, '{date_short} {time}', '%Y-%m-%d %H:%M UTC')} · "
                "refreshed when you open this tab and after your actions"
            ),
        ]
        parts: list[Callable[[Actor], Awaitable[list[Block]]]] = [
            self._calls,
            self._pending,
            *(section.blocks for section in self._extra),
            self._bans,
            self._actions,
        ]
        sections = await asyncio.gather(*(_safely(part, actor) for part in parts))
        page = top
        for section in sections:
            if section:
                page += [{"type": "divider"}, *section]
        return _fit(page)

    async def _calls(self, actor: Actor) -> list[Block]:
        stream = self._dispatcher.context(actor).stream
        page = await asyncio.wait_for(stream.query_calls(ongoing=True, limit=SHOWN), LOOKUP_SECONDS)
        if not page.calls:
            return [_section("*Live calls*\nNo one is in a call right now.")]
        more = " (the newest 10; `/calls` lists them all)" if page.next else ""
        found = [_section(f"*Live calls*{more}")]
        for call in page.calls:
            people = "1 person" if call.participant_count == 1 else (
                f"{call.participant_count} people"
            )
            found.append(
                _section(
                    f"{code(call.ref.id)} · type {code(call.ref.type)} · {people} in it",
                    Button("Roster", command_action(), f"roster {call.cid}"),
                )
            )
        return found

    async def _pending(self, actor: Actor) -> list[Block]:
        if self._requests is None:
            return []
        pending = self._requests.pending()
        if not pending:
            return [_section("*Permission requests*\nNone waiting.")]
        found = [_section(f"*Permission requests* · {len(pending)} waiting")]
        for record in pending[:SHOWN]:
            who = code(record.user_id)
            if record.user_name and record.user_name != record.user_id:
                who = f"{escape(blocks.truncate(record.user_name, 80))} ({who})"
            found.append(
                _section(
                    f"{who} asks to *{describe_permissions(record.permissions)}* in "
                    f"{code(record.call.cid)} · {date_token(record.asked_at)}"
                )
            )
            found.append(
                _actions(
                    [
                        Button("Approve", APPROVE_ACTION, record.id, "primary"),
                        Button("Deny", DENY_ACTION, record.id, "danger"),
                    ]
                )
            )
        return found

    async def _bans(self, actor: Actor) -> list[Block]:
        context = self._dispatcher.context(actor)
        active = context.bans.active()
        if not active:
            return [_section("*Active bans*\nNone.")]
        now = context.clock.time()
        admin = actor.role >= Role.ADMIN
        note = "" if admin else " (Unban needs the admin role)"
        found = [_section(f"*Active bans* · {len(active)}{note}")]
        for record in active[:SHOWN]:
            unban = Button("Unban", UNBAN_ACTION, record.user_id, "danger") if admin else None
            found.append(_section(ban_entry(record, now, self._team_url()), unban))
        if len(active) > SHOWN:
            found.append(_context(f"{len(active) - SHOWN} more: `/bans` lists them all."))
        return found

    async def _actions(self, actor: Actor) -> list[Block]:
        store = self._dispatcher.context(actor).cases.store
        page = await asyncio.wait_for(
            store.by_moderator(actor.user_id, limit=SHOWN), LOOKUP_SECONDS
        )
        if not page.cases:
            return [_section("*Your last actions*\nNone yet.")]
        found = [_section("*Your last 10 actions*")]
        for case in page.cases:
            found.append(_section(case_line(case)))
            buttons = []
            undo = self._dispatcher.undo_button(case.number)
            if undo is not None:
                buttons.append(undo)
            if case.target_user_id:
                buttons.append(history_button(case.target_user_id))
            if buttons:
                found.append(_actions(buttons))
        return found


async def _safely(part: Callable[[Actor], Awaitable[list[Block]]], actor: Actor) -> list[Block]:
    """A section, or one line saying it could not be read: the rest of the tab still shows."""
    try:
        return await part(actor)
    except (StreamAPIError, CaseStoreError, TimeoutError) as error:
        log.warning("a home section failed: %s", type(error).__name__)
        return [_context(":warning: This part could not be loaded just now; reopen the tab.")]
    except Exception:
        log.exception("a home section failed")
        return [_context(":warning: This part could not be loaded (an internal error).")]


def _fit(page: list[Block]) -> list[Block]:
    """At most Slack's 100 blocks: what does not fit is cut, and the tab says so."""
    if len(page) <= MAX_HOME_BLOCKS:
        return page
    return [*page[: MAX_HOME_BLOCKS - 1], _context("_(More than fits here: use the commands.)_")]


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _section(text: str, accessory: Button | None = None) -> Block:
    return _one(blocks.section(text, accessory))


def _context(text: str) -> Block:
    return _one(blocks.context(text))


def _actions(buttons: Sequence[Button]) -> Block:
    return _one(blocks.actions(buttons))


def _one(part: blocks.Part) -> Block:
    return blocks.to_dicts([part])[0]
