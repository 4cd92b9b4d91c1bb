"""Running a command, written once for every front-end (slash command, `/mod`, confirm button).

The dispatcher resolves the caller's role, parses, checks the role the parsed arguments need,
looks up what the plan must say (for the commands that read Stream first), asks for confirmation
where the command wants it, runs the action, turns every failure into a sentence, and records
each write in the audit channel.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from bot.cases.models import MessagePurpose, Outcome
from bot.core import names
from bot.core.audit import AuditSink, audit_line, audit_metadata
from bot.core.confirmations import Confirmations
from bot.core.context import ActionContext
from bot.core.model import Actor, Click, Plan, Reply, Role
from bot.core.parsing import UsageError
from bot.core.presets import presets_help
from bot.core.registry import Command, Registry
from bot.core.roles import RoleResolver
from bot.core.undo import UNDO_ACTION, Undoable, UndoClick, UndoDesk
from bot.moderation.bans.book import BanBook
from bot.moderation.history.book import CaseBook, Ticket
from bot.moderation.history.render import history_button
from bot.moderation.notices import CallNotices
from bot.settings import Settings
from bot.shared import InProcessState, SharedState, SharedStateError
from bot.slack import blocks
from bot.slack.blocks import Button, escape
from bot.stream import StreamAPIError, StreamClient
from bot.util.clock import Clock
from bot.util.request_ids import request_id

log = logging.getLogger("callmod.actions")

CONFIRM_ACTION = "callmod_confirm"
CANCEL_ACTION = "callmod_cancel"
# A button or menu option whose value is a command line (`kick sara default:call-123`). Slack
# wants action ids unique within a block, so several in one block are told apart by a tag.
COMMAND_ACTION = "callmod_run"
COMMAND_ACTIONS = re.compile(r"^callmod_run(?::[A-Za-z0-9_-]{1,40})?$")
# How long a handled click is remembered (to answer a later click "already handled").
CLICK_MEMORY = 7 * 86_400.0
TRY_AGAIN = (
    ":hourglass: callmod cannot make sure this click acts only once right now; nothing was "
    "changed. Try again in a moment."
)


def command_action(tag: str | None = None) -> str:
    """`callmod_run`, or `callmod_run:<tag>` for the second and later ones in a block."""
    return f"{COMMAND_ACTION}:{tag}" if tag else COMMAND_ACTION


@dataclass(frozen=True)
class Parsed:
    args: Any


@dataclass(frozen=True)
class Services:
    stream: StreamClient
    settings: Settings
    clock: Clock
    registry: Registry
    roles: RoleResolver
    bans: BanBook
    cases: CaseBook
    audit: AuditSink
    notices: CallNotices | None = None  # MOD_NOTIFY_CALLS: tell the call what was done
    alerts: object | None = None  # the alert desk (bot/moderation/alerts), for /queue and /report
    shared: SharedState | None = None  # claims every replica sees (bot/shared); None: this process


class Dispatcher:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._confirmations = Confirmations(services.clock)
        self._undos = UndoDesk(services.clock, services.settings.mod_undo_seconds)
        # Confirm/Cancel and Undo clicks are claimed here, so that two clicks on two replicas
        # still act once.
        self._claims: SharedState = services.shared or InProcessState(services.clock)
        self.prefix = services.settings.mod_command_prefix  # /cm-kick as well as /kick
        # Told of every command that finished done (the alert desk: a ban decides alerts).
        self.after_done: list[Callable[[Actor, Plan, Ticket], None]] = []

    def slash(self, command: Command[Any]) -> str:
        """The name to type for `command` in this workspace: `/kick`, or `/cm-kick`."""
        return names.slash(command.name, self.prefix)

    def usage_line(self, command: Command[Any]) -> str:
        return f"{self.slash(command)} {command.usage}".rstrip()

    def command(self, word: str) -> Command[Any] | None:
        """The command a typed word names: `kick`, `/kick`, `KICK`, or `/cm-kick`."""
        return self.registry.get(word) or self.registry.get(names.command_word(word, self.prefix))

    @property
    def registry(self) -> Registry:
        return self._services.registry

    async def actor(self, user_id: str, user_name: str) -> Actor:
        return Actor(user_id, user_name, await self._services.roles.role_of(user_id))

    async def run_slash(self, name: str, text: str, *, user_id: str, user_name: str) -> Reply:
        """`/kick sara call-123` arrives as name="kick", text="sara call-123"; `/mod` too."""
        actor = await self.actor(user_id, user_name)
        if name == "mod":
            word, _, rest = text.strip().partition(" ")
            if not word or word.lower() == "help":
                return self.help(actor)
            command = self.command(word)
            if command is None:
                return Reply(
                    f":warning: `{blocks.code(word)[1:-1]}` is not a callmod command. "
                    "`/mod help` lists the ones you can use."
                )
            return await self._prepare(command, rest, actor)
        command = self.registry.get(name)
        if command is None:
            return Reply(f":warning: /{escape(name)} is not a callmod command.")
        return await self._prepare(command, text, actor)

    def help(self, actor: Actor) -> Reply:
        usable = self.registry.available_to(actor.role)
        if not usable:
            return Reply(
                ":lock: You have no callmod role, so there are no commands you can use. "
                "Ask an admin to add you to MOD_MODERATORS."
            )
        label = actor.role.label
        article = "an" if label[0] in "aeiou" else "a"
        lines = [f"*callmod commands for {article} {label}*"]
        if actor.role is Role.NONE:  # commands anyone may use, such as /report
            lines = [
                ":lock: You have no callmod role (an admin can add you to MOD_MODERATORS); "
                "these commands are open to everyone:"
            ]
        lines += [f"`{escape(self.usage_line(c))}` — {escape(c.summary)}" for c in usable]
        presets = presets_help(self._services.settings, actor.role)
        if presets:
            lines.append(presets)
        lines.append(f"Every command also works as `{escape('/mod <command> …')}`.")
        return Reply("\n".join(lines))

    def _authorize(self, command: Command[Any], text: str, actor: Actor) -> Parsed | Reply:
        """The role the command needs, then the parse, then the role its arguments need."""
        if actor.role < command.min_role:
            return _denied(actor, command.min_role, self.slash(command))
        try:
            args = command.parse(text, self._services.settings)
        except UsageError as error:
            return _usage(self.usage_line(command), str(error))
        needed = command.role_needed(args)
        if actor.role < needed:
            return _denied(actor, needed, command.plan(args).summary)
        return Parsed(args)

    async def _prepare(self, command: Command[Any], text: str, actor: Actor) -> Reply:
        checked = self._authorize(command, text, actor)
        if isinstance(checked, Reply):
            return checked
        if command.confirm:
            # Looked up before asking, so the question names what is there; again on Confirm.
            looked = await self._look_up(command, checked.args, actor)
            if isinstance(looked, Reply):
                return looked
            return self._confirmation(command, text, command.plan(looked.args))
        return await self.execute(command, checked.args, actor)

    async def _look_up(self, command: Command[Any], args: Any, actor: Actor) -> Parsed | Reply:
        """What the command reads from Stream before acting; nothing is recorded yet, so any
        failure here changed nothing."""
        if command.look_up is None:
            return Parsed(args)
        try:
            found = await command.look_up(self.context(actor), args)
        except UsageError as error:
            return _usage(self.usage_line(command), str(error))
        except StreamAPIError as error:
            return Reply(
                f":x: Could not {command.plan(args).summary}: {escape(error.sentence)}."
                f"{_outcome_advice(error)}",
                outcome="failed",
            )
        return found if isinstance(found, Reply) else Parsed(found)

    def _confirmation(self, command: Command[Any], text: str, plan: Plan) -> Reply:
        value = self._confirmations.button_value(command.name, text)
        prompt = f":warning: Really {plan.summary}?"
        return Reply(
            prompt,
            blocks.to_dicts(
                [
                    blocks.section(prompt),
                    blocks.actions(
                        [
                            Button("Confirm", CONFIRM_ACTION, value, "danger"),
                            Button("Cancel", CANCEL_ACTION, value),
                        ]
                    ),
                ]
            ),
            outcome="confirm",
        )

    async def confirmed(self, value: str, *, user_id: str, user_name: str) -> Reply:
        """A Confirm click: the role is checked again and the command parsed again."""
        actor = await self.actor(user_id, user_name)
        try:
            pending = self._confirmations.read(value)
        except ValueError:
            return Reply(":warning: That button no longer works; run the command again.")
        command = self.registry.get(pending.command)
        if command is None:
            return Reply(":warning: That command no longer exists.")
        if pending.text is None:  # a long command kept server-side, and no longer
            try:
                earlier = await self._claims.holder(f"confirm:{pending.nonce}")
            except SharedStateError:
                return Reply(TRY_AGAIN)
            if earlier is not None:
                return Reply(f"This was already handled by {blocks.mention(earlier)}.")
            return Reply(
                ":warning: This confirmation has expired; nothing was changed. "
                "Run the command again."
            )
        checked = self._authorize(command, pending.text, actor)
        if isinstance(checked, Reply):
            return checked
        claimed = await self._claim(f"confirm:{pending.nonce}", actor.user_id)
        if isinstance(claimed, Reply):
            return claimed
        if claimed is not None:
            return Reply(f"This was already handled by {blocks.mention(claimed)}.")
        return await self.execute(command, checked.args, actor)

    async def run_line(self, line: str, *, user_id: str, user_name: str) -> Reply:
        """A click on a button or menu option that carries a command line: run exactly as if
        the clicker had typed it now — their role, the command's own role rule for these
        arguments, its confirmation, its case and its audit line. The line names the user and
        call it acts on, so a click never depends on where a row sat in a message."""
        actor = await self.actor(user_id, user_name)
        word, _, rest = line.strip().partition(" ")
        command = self.registry.get(word) if word else None
        if command is None:
            return Reply(":warning: That button no longer works; nothing was changed.")
        return await self._prepare(command, rest, actor)

    async def run_line_recorded(
        self,
        line: str,
        actor: Actor,
        before: Callable[[], Awaitable[Reply | None]] | None = None,
    ) -> tuple[Reply, Ticket | None]:
        """A command line run for a caller that follows its case (an alert card's Kick): the
        typed command's role, parse and argument checks, then `before` (what must happen
        first; a Reply it returns stops here, nothing recorded), then the command without its
        confirmation step (the caller asked already), with its case and audit line."""
        word, _, rest = line.strip().partition(" ")
        command = self.registry.get(word) if word else None
        if command is None:
            return Reply(":warning: That button no longer works; nothing was changed."), None
        checked = self._authorize(command, rest, actor)
        if isinstance(checked, Reply):
            return checked, None
        if before is not None and (stopped := await before()) is not None:
            return stopped, None
        return await self._execute(command, checked.args, actor)

    async def cancelled(self, value: str, *, user_id: str, user_name: str) -> Reply:
        """A Cancel click: only someone who may run the command can withdraw it."""
        actor = await self.actor(user_id, user_name)
        try:
            pending = self._confirmations.read(value)
        except ValueError:
            return Reply(":warning: That button no longer works; nothing was changed.")
        command = self.registry.get(pending.command)
        if command is not None and actor.role < command.min_role:
            return _denied(actor, command.min_role, self.slash(command))
        claimed = await self._claim(f"confirm:{pending.nonce}", actor.user_id)
        if isinstance(claimed, Reply):
            return claimed
        if claimed is not None:
            return Reply(f"This was already handled by {blocks.mention(claimed)}.")
        return Reply("Cancelled; nothing was changed.", outcome="cancelled")

    def context(self, actor: Actor, ticket: Ticket | None = None) -> ActionContext:
        services = self._services
        return ActionContext(
            actor=actor,
            stream=services.stream,
            settings=services.settings,
            clock=services.clock,
            bans=services.bans,
            cases=services.cases,
            ticket=ticket,
            alerts=services.alerts,
        )

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user_id: str,
        user_name: str,
        channel_id: str | None,
        message_ts: str | None,
    ) -> tuple[Reply, bool]:
        """A press of one of the registry's buttons; returns the reply and whether it replaces
        the clicked message. The role is checked on every click; what a click changed
        (`Reply.did`) is recorded as a case and audited, like a command."""
        if action_id == UNDO_ACTION:
            return await self.undo(value, await self.actor(user_id, user_name)), False
        button = self.registry.buttons.get(action_id)
        if button is None:
            return Reply(":warning: That button is not one callmod knows."), False
        actor = await self.actor(user_id, user_name)
        if actor.role < button.min_role:
            return _denied(actor, button.min_role, "use this button"), False
        click = Click(actor, value, channel_id, message_ts)
        try:
            reply = await button.run(self.context(actor), click)
        except StreamAPIError as error:
            return Reply(f":x: Stream refused: {escape(error.sentence)}."), False
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("button %s failed (ref %s)", action_id, ref)
            return Reply(
                f":x: callmod hit an internal error (ref `{ref}`); the button may not have "
                "taken effect. The on-call engineer can find the details in the logs."
            ), False
        if reply.did is not None:
            ticket = await self._services.cases.record_done(actor, reply.did, request_id.get())
            self._notify(reply.did)
            reply = await self._after(actor, reply.did, reply, ticket)
        return reply, button.replace_original

    def undo_button(self, case_number: int) -> Button | None:
        """Case `case_number`'s Undo button while it still works (the App Home shows it)."""
        return self._undos.button_for_case(case_number)

    async def undo(self, value: str, actor: Actor) -> Reply:
        """An Undo click: the inverse runs as the clicker, under its own command's role rule,
        once however often the button is pressed; its case and the reversed one name each
        other, and the reversed one's audit line says it was undone."""
        try:
            clicked = self._undos.read(value)
        except ValueError:
            return Reply(":warning: That button no longer works; nothing was changed.")
        try:
            earlier = await self._claims.holder(f"undo:{clicked.token}")
            clicked = await self._shared_undo(clicked)  # offered by another replica
        except SharedStateError:
            return Reply(TRY_AGAIN)
        if earlier is not None:
            return Reply(f"This was already undone by {blocks.mention(earlier)}.")
        undoable = clicked.undoable
        word, _, rest = (undoable.line if undoable else clicked.line).partition(" ")
        command = self.registry.get(word) if word else None
        if undoable is None or command is None:
            typed = f"; use `{escape(f'{self.slash(command)} {rest}')}`" if command else ""
            return Reply(
                f":hourglass: Undo is no longer available ({self._undos.window} passed)"
                f"{typed}. Nothing was changed."
            )
        checked = self._authorize(command, rest, actor)
        if isinstance(checked, Reply):
            return checked
        claimed = await self._claim(f"undo:{clicked.token}", actor.user_id)
        if isinstance(claimed, Reply):
            return claimed
        # Kept in this process too, for the App Home's Undo buttons (`button_for_case`).
        claimed = claimed or self._undos.claim(clicked.token, actor.user_id)
        if claimed is not None:
            return Reply(f"This was already undone by {blocks.mention(claimed)}.")
        reply, ticket = await self._execute(command, checked.args, actor)
        if reply.outcome == "failed":
            self._undos.release(clicked.token)  # nothing changed: the button may be tried again
            await self._release(f"undo:{clicked.token}", actor.user_id)
        elif reply.outcome == "done" and ticket is not None:
            await self._services.cases.mark_undone(undoable.cases, ticket, actor)
        return reply

    async def _share_undo(self, value: str, undoable: Undoable) -> None:
        """Several replicas: what an Undo button reverses, for a click reaching another one."""
        if self._services.shared is None:
            return
        token = self._undos.read(value).token
        kept = json.dumps({"line": undoable.line, "cases": list(undoable.cases)})
        try:
            await self._claims.put(f"undoable:{token}", kept, self._undos.seconds)
        except SharedStateError as error:  # the button works on this replica only
            log.warning("could not share an Undo: %s", error)

    async def _shared_undo(self, clicked: UndoClick) -> UndoClick:
        if clicked.undoable is not None or self._services.shared is None:
            return clicked
        kept = await self._claims.get(f"undoable:{clicked.token}")
        if kept is None:
            return clicked
        data = json.loads(kept)
        undoable = Undoable(str(data["line"]), tuple(int(n) for n in data["cases"]))
        return replace(clicked, undoable=undoable)

    async def _claim(self, key: str, user_id: str) -> str | Reply | None:
        """Claim a click for `user_id`: None when it is theirs now, who had it otherwise, or
        the "try again" reply when the shared state cannot say (acting could double it)."""
        try:
            return await self._claims.claim(key, user_id, CLICK_MEMORY)
        except SharedStateError as error:
            log.warning("could not claim a click: %s", error)
            return Reply(TRY_AGAIN)

    async def _release(self, key: str, user_id: str) -> None:
        try:
            await self._claims.release(key, user_id)
        except SharedStateError as error:  # the claim stays until it expires
            log.warning("could not release a click: %s", error)

    async def execute(self, command: Command[Any], args: Any, actor: Actor) -> Reply:
        """Run a parsed, authorized command. Its look-up runs first (when that ends it, nothing
        is recorded); its case is opened before Stream is called (so a crash leaves "may have
        been applied", and notifications can show the number) and settled after; every write
        leaves an audit line."""
        return (await self._execute(command, args, actor))[0]

    async def _execute(
        self, command: Command[Any], args: Any, actor: Actor
    ) -> tuple[Reply, Ticket | None]:
        looked = await self._look_up(command, args, actor)
        if isinstance(looked, Reply):
            return looked, None
        args = looked.args
        plan = command.plan(args)
        cases = self._services.cases
        ticket = await cases.open(actor, plan, request_id.get()) if command.writes else None
        try:
            reply = await command.run(self.context(actor, ticket), args)
        except StreamAPIError as error:
            outcome = Outcome.MAYBE_APPLIED if error.maybe_applied else Outcome.FAILED
            state = "may have been applied" if error.maybe_applied else "nothing was changed"
            sentence = escape(error.sentence)
            if ticket is not None:
                await cases.finish(ticket, outcome)
                await self._audit(actor, plan, f":x: failed ({state}): {sentence}", ticket)
            return Reply(
                f":x: Could not {plan.summary}: {sentence}.{_outcome_advice(error)}",
                outcome="maybe_applied" if error.maybe_applied else "failed",
            ), ticket
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("command /%s failed (ref %s)", command.name, ref)
            if ticket is not None:
                await cases.finish(ticket, Outcome.MAYBE_APPLIED)
                await self._audit(
                    actor, plan, f":x: internal error (ref {ref}); result unknown", ticket
                )
            return Reply(
                f":x: callmod hit an internal error while trying to {plan.summary} "
                f"(ref `{ref}`); it may or may not have been applied. "
                "The on-call engineer can find the details in the logs under that ref.",
                outcome="error",
            ), ticket
        if ticket is None:
            return reply, None
        await cases.finish(ticket, Outcome.DONE)
        self._notify(plan)
        for observe in self.after_done:
            observe(actor, plan, ticket)
        return await self._offer_undo(await self._after(actor, plan, reply, ticket), ticket), ticket

    async def _offer_undo(self, reply: Reply, ticket: Ticket) -> Reply:
        """A reversible command's reply gets an Undo button (for MOD_UNDO_SECONDS), another
        write's reply the reason it has none; the text stays as it was, for notifications."""
        if reply.undo is not None:
            undoable = Undoable(reply.undo, tuple(ticket.numbers))
            button = self._undos.button(undoable)
            await self._share_undo(button.value, undoable)
            extra = blocks.actions([button])
        elif reply.no_undo is not None:
            extra = blocks.context(reply.no_undo)
        else:
            return reply
        parts = reply.blocks or blocks.to_dicts([blocks.section(reply.text)])
        return replace(reply, blocks=[*parts, *blocks.to_dicts([extra])])

    def _notify(self, plan: Plan) -> None:
        if self._services.notices is not None:
            self._services.notices.after(plan)

    async def _after(self, actor: Actor, plan: Plan, reply: Reply, ticket: Ticket) -> Reply:
        """The audit line (unless the action announced itself) and what the moderator must know
        about it and about the case."""
        notes = []
        if not reply.audited and not await self._audit(
            actor, plan, ":white_check_mark: done", ticket
        ):
            notes.append("_(The audit line could not be posted to the log channel.)_")
        if ticket.drafts and not ticket.recorded:
            notes.append(
                "_(The case could not be recorded: the case database is unavailable. callmod "
                "keeps retrying; nothing is lost.)_"
            )
        elif ticket.label:
            notes.append(f"_{ticket.label}_")
        if not notes:
            return reply
        return replace(reply, text="\n".join([reply.text, *notes]))

    async def _audit(self, actor: Actor, plan: Plan, result: str, ticket: Ticket) -> bool:
        text = audit_line(actor, plan, result, ticket.label)
        targets = [t for t in plan.targets if t is not None]
        parts = [blocks.section(text)]
        if targets:
            parts.append(blocks.actions([history_button(t, len(targets) > 1) for t in targets[:5]]))
        metadata = audit_metadata(plan, ticket.numbers)
        posted = await self._services.audit(text, blocks.to_dicts(parts), metadata=metadata)
        if posted is not None:
            await self._services.cases.link(ticket, posted, MessagePurpose.AUDIT)
        return posted is not None


def _outcome_advice(error: StreamAPIError) -> str:
    """What the moderator should assume, unless the sentence already said it."""
    if error.maybe_applied:
        return " It may have been applied before the answer was lost; check before retrying."
    return "" if "nothing was changed" in error.sentence.lower() else " Nothing was changed."


def _usage(usage_line: str, problem: str) -> Reply:
    return Reply(f":warning: {problem}.\nUsage: `{escape(usage_line)}`", outcome="usage")


def _denied(actor: Actor, needed: Role, what: str) -> Reply:
    has = "no callmod role" if actor.role is Role.NONE else f"the {actor.role.label} role"
    return Reply(
        f":lock: You need the *{needed.label}* role to {_what(what)}; you have {has}. "
        "Nothing was sent to Stream.",
        outcome="denied",
    )


def _what(what: str) -> str:
    return f"use `{escape(what)}`" if what.startswith("/") else what
