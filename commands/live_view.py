"""How `/calls` and `/roster` look in Slack: one line per live call, and the roster's rows with
their menus, page by page. Data in, blocks out; nothing here calls Stream.

A roster page is at most Slack's 50 blocks:

    1 section   the header: call, head count, "as of", notes; accessory: Refresh
    1 actions   Mute all (admins only), Previous, Next
    24 × 2      per person: a section (the name as plain text | id, call role, joined,
                tracks) whose accessory is an overflow menu, then an actions block of buttons

The nine per-person actions are split by what they do to the person. The overflow menu (Slack:
2 to 5 options) holds the four that quiet someone and keep them in the call, plus History: Mute
audio, Mute video, Stop screen share, Revoke speaking, History. The buttons hold the three that
remove someone, labelled on the row rather than hidden in a menu: Kick and Kick and block (each
behind Slack's own "are you sure?" dialog, so a slip on a dense list removes no one) and Ban…
(it asks how long), then Mute… (the action form, to pick the tracks; issue 14). Two blocks a
person leave room for 24 people a page; Previous and Next (and the filter) reach everyone Stream
returned.

Every menu option and button carries what it does as a command line naming the user id and the
call (`mute sara default:call-123 audio`), never a row position, and is run as if the clicker
had typed it (see `Dispatcher.run_line`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.dispatch import command_action
from bot.core.model import Reply
from bot.slack import blocks
from bot.slack.blocks import Button, Choice, Confirm, Menu, code, date_token, plain
from bot.stream import LiveCall, Participant, Roster, Track
from bot.stream.live import MAX_PARTICIPANTS
from bot.util.timefmt import ago

PAGE_SIZE = 24  # people per roster page: 2 header blocks + 24 × 2 = Slack's 50
CALLS_PAGE_SIZE = 25  # calls per /calls page: a header, 25 sections and the Next button
NAME_LIMIT = 60
ROLE_LIMIT = 30
TRACK_ICONS: dict[Track, str] = {
    "audio": ":microphone:",
    "video": ":video_camera:",
    "screenshare": ":desktop_computer:",
}
LEGEND = (
    "Publishing (as Stream said then): :microphone: audio, :video_camera: video, "
    ":desktop_computer: screen"
)

ROSTER_PAGE_ACTION = "callmod_roster_page"  # Next and Refresh (in different blocks)
ROSTER_BACK_ACTION = "callmod_roster_back"  # Previous: one action id per element in a block
BAN_CHOICES_ACTION = "callmod_ban_choices"  # Ban… on a roster row or a user card
CALLS_PAGE_ACTION = "callmod_calls_page"
# Mute… on a row: the action form (bot/slack/action_form.py OPEN_BUTTON) with the user and the
# call filled in, to choose the tracks; without a trigger_id it answers how to type it.
FORM_ACTION = "callmod_form_open"


@dataclass(frozen=True)
class Person:
    """One user in the call: a user on several devices is one row (actions are per user)."""

    user_id: str
    name: str | None
    role: str | None
    joined_at: datetime | None
    devices: int
    tracks: frozenset[Track]

    def matches(self, needle: str) -> bool:
        needle = needle.casefold()
        return needle in self.user_id.casefold() or needle in (self.name or "").casefold()


def people(roster: Roster) -> list[Person]:
    """One `Person` per user id, sorted by name (then id), so pages stay put between looks."""
    seen: dict[str, list[Participant]] = {}
    for participant in roster.participants:
        seen.setdefault(participant.user_id, []).append(participant)
    found = []
    for user_id, sessions in seen.items():
        joined = [s.joined_at for s in sessions if s.joined_at is not None]
        found.append(
            Person(
                user_id=user_id,
                name=next((s.name for s in sessions if s.name), None),
                role=next((s.role for s in sessions if s.role), None),
                joined_at=min(joined) if joined else None,
                devices=len(sessions),
                tracks=roster.tracks.get(user_id, frozenset()),
            )
        )
    return sorted(found, key=lambda p: ((p.name or p.user_id).casefold(), p.user_id))


@dataclass(frozen=True)
class RosterPage:
    roster: Roster
    filter: str | None
    page: int
    now: float
    can_mute_all: bool  # the viewer may run /muteall: only then is the button shown

    def value(self, page: int) -> str:
        """What Refresh, Previous and Next carry: the call, the filter, the page."""
        return blocks.encode_value({"c": self.roster.call.cid, "f": self.filter, "p": page})


def render_roster(view: RosterPage) -> Reply:
    roster, cid = view.roster, view.roster.call.cid
    everyone = people(roster)
    if not everyone:
        return Reply(f"No one is in {code(cid)}.")
    shown = [p for p in everyone if p.matches(view.filter)] if view.filter else everyone
    if not shown:
        needle = code(view.filter or "")
        text = f"No one of the {_count(len(everyone))} in {code(cid)} matches {needle}."
        return Reply("\n".join([text, *_partial_notes(view)]))
    pages = (len(shown) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(max(view.page, 0), pages - 1)
    rows = shown[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    header = _header(view, everyone, shown, page, pages)
    nav = []
    if view.can_mute_all:
        nav.append(Button("Mute all", command_action(), f"muteall {cid}", "danger"))
    if page > 0:
        nav.append(Button("Previous", ROSTER_BACK_ACTION, view.value(page - 1)))
    if page < pages - 1:
        nav.append(Button("Next", ROSTER_PAGE_ACTION, view.value(page + 1)))
    parts: list[blocks.Part] = [
        blocks.section(header, Button("Refresh", ROSTER_PAGE_ACTION, view.value(page)))
    ]
    if nav:
        parts.append(blocks.actions(nav))
    for person in rows:
        parts += _row(person, cid)
    return Reply(header, blocks.to_dicts(parts))


def _header(
    view: RosterPage, everyone: list[Person], shown: list[Person], page: int, pages: int
) -> str:
    cid = view.roster.call.cid
    as_of = date_token(view.now, "{time}", "%H:%M UTC")
    title = f"*Who is in {code(cid)}* · {_count(len(everyone))} · as of {as_of}"
    if view.filter:
        title += f" · {len(shown)} matching {code(view.filter)}"
    lines = [title, *_partial_notes(view)]
    if pages > 1:
        first = page * PAGE_SIZE + 1
        last = min(len(shown), first + PAGE_SIZE - 1)
        lines.append(f"People {first}–{last} of {len(shown)} (page {page + 1} of {pages}).")
    lines.append(LEGEND)
    return "\n".join(lines)


def _partial_notes(view: RosterPage) -> list[str]:
    roster = view.roster
    if not roster.partial:
        return []
    cid = roster.call.cid
    notes = [
        f"Stream lists at most {MAX_PARTICIPANTS} people of a call and has no next page: showing "
        f"{len(roster.participants)} of {roster.total}."
    ]
    if view.filter:
        notes.append(f"The filter looked only at those {len(roster.participants)}.")
    else:
        notes.append(f"To find anyone else, filter by name or id: `/roster {cid} sar`.")
    return notes


def _count(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _row(person: Person, cid: str) -> list[blocks.Part]:
    user = person.user_id
    details = [code(user)]
    if person.role:
        details.append(plain(person.role, ROLE_LIMIT))
    if person.joined_at is not None:
        details.append(f"joined {date_token(person.joined_at, '{time}', '%H:%M UTC')}")
    icons = " ".join(icon for track, icon in TRACK_ICONS.items() if track in person.tracks)
    if icons:
        details.append(icons)
    if person.devices > 1:
        details.append(f"{person.devices} devices")
    menu = Menu(
        command_action(),
        (
            Choice("Mute audio", f"mute {user} {cid} audio"),
            Choice("Mute video", f"mute {user} {cid} video"),
            Choice("Stop screen share", f"mute {user} {cid} screenshare screenshare_audio"),
            Choice("Revoke speaking", f"revoke {user} {cid} audio"),
            Choice("History", f"cases {user}"),
        ),
    )
    who = f"{code(user)} from {code(cid)}"
    buttons = [
        Button(
            "Kick",
            command_action(),
            f"kick {user} {cid}",
            confirm=Confirm("Kick?", f"Kick {who}? They can join again.", "Kick"),
        ),
        Button(
            "Kick and block",
            command_action("block"),
            f"kick {user} {cid} --block",
            "danger",
            confirm=Confirm("Kick and block?", f"Kick {who} and keep them out?", "Kick and block"),
        ),
        Button("Ban…", BAN_CHOICES_ACTION, user),
        Button("Mute…", FORM_ACTION, blocks.encode_value({"u": user, "c": cid, "a": "mute"})),
    ]
    name = plain(person.name or user, NAME_LIMIT)
    return [blocks.fields_section(name, " · ".join(details), menu), blocks.button_row(buttons)]


# -- Ban… ------------------------------------------------------------------------------------


def render_ban_choices(user: str, choices: list[tuple[str, str]], more_for_admins: bool) -> Reply:
    """The private answer to Ban…: one button per (label, /ban command line) the viewer may
    use; the permanent one behind Slack's confirm dialog."""
    text = f":hammer: Ban {code(user)} from every call for how long?"
    if more_for_admins:
        text += " _(Longer and permanent bans need the admin role.)_"
    if not choices:
        return Reply(f":lock: You may not ban {code(user)}.", outcome="denied")
    buttons = []
    for n, (label, line) in enumerate(choices):
        forever = not line.split()[2:]
        buttons.append(
            Button(
                label,
                command_action(f"ban{n}" if n else None),  # unique within the block
                line,
                "danger" if forever else None,
                Confirm("Ban for good?", f"Ban {code(user)} permanently?", "Ban")
                if forever
                else None,
            )
        )
    return Reply(text, blocks.to_dicts([blocks.section(text), blocks.actions(buttons)]))


# -- /calls ----------------------------------------------------------------------------------


def render_calls(
    calls: tuple[LiveCall, ...], now: float, *, later: bool, next_value: str | None, skipped: int
) -> Reply:
    if not calls:
        return Reply("No more live calls." if later else "No live calls.")
    header = "*Live calls*" + (" (continued)" if later else "")
    if next_value is not None:
        header += " — more on the next page"
    lines = [_call_line(call, now) for call in calls]
    parts = [blocks.section(header)]
    for call, line in zip(calls, lines, strict=True):
        parts.append(blocks.section(line, Button("Roster", command_action(), f"roster {call.cid}")))
    notes = []
    if skipped:
        notes.append(
            f"_({skipped} call{' Stream sent was' if skipped == 1 else 's Stream sent were'} "
            "unreadable and left out; see the logs.)_"
        )
    if next_value is not None:
        parts.append(blocks.actions([Button("Next page", CALLS_PAGE_ACTION, next_value)]))
    text = "\n".join([header, *lines, *notes])
    if notes:
        parts.insert(1, blocks.context(" ".join(notes)))
    return Reply(text, blocks.to_dicts(parts))


def _call_line(call: LiveCall, now: float) -> str:
    started = call.started_at or call.created_at
    when = f"started {ago(started, now)}" if started is not None else "start time unknown"
    return (
        f"{code(call.ref.id)} · type {code(call.ref.type)} · {when} · "
        f"{_count(call.participant_count)} in it"
    )
