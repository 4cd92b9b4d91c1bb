"""The alert card's buttons: Mute…, Kick, Mark reviewed, End call (and its confirmation).

A click claims the alert before anything is awaited, so two moderators clicking at once make
one decision and the second is told who handled it. The decision goes to Stream's review queue
first (`submit_action`); when Stream refuses, nothing else happens and the card keeps its
buttons with the reason. Then the action runs as the command it names (`/kick sara
default:call-123`, `/mute …`, `/endcall …`) as the clicker — that command's role rule, case and
audit line — and the card says "Actioned by @x — Case #n". Ban… is the roster's ban form; the
ban it makes decides the user's open alerts (`AlertDesk.after_action`).
"""

from __future__ import annotations

from bot.core.context import ActionContext
from bot.core.model import Actor, Click, Reply, Role
from bot.core.registry import ButtonAction
from bot.moderation.alerts import render
from bot.moderation.alerts.desk import AlertDesk
from bot.moderation.alerts.record import Alert, Status
from bot.shared import SharedStateError
from bot.slack import blocks
from bot.slack.blocks import Button, code

CANCEL_ACTION = "callmod_alert_cancel"
TRACKS = {
    "audio": "audio",
    "video": "video",
    "screenshare": "screenshare screenshare_audio",
    "all": "audio video screenshare screenshare_audio",
}
UNKNOWN = (
    ":warning: callmod no longer knows this alert (it is too old, or callmod restarted since). "
    "Nothing was sent to Stream; `{queue}` lists the open ones."
)


TRY_AGAIN = (
    ":hourglass: callmod could not check whether someone else is deciding this alert; nothing "
    "was sent to Stream. Try again in a moment."
)


def _plain(text: str) -> str:
    return " ".join(text.split())[:200]


class AlertButtons:
    def __init__(self, desk: AlertDesk) -> None:
        self.desk = desk

    def buttons(self) -> list[ButtonAction]:
        return [
            ButtonAction(render.KICK_ACTION, Role.MODERATOR, self._kick),
            ButtonAction(render.MUTE_ACTION, Role.MODERATOR, self._mute),
            ButtonAction(render.REVIEW_ACTION, Role.MODERATOR, self._review),
            ButtonAction(render.END_ACTION, Role.ADMIN, self._ask_end),
            ButtonAction(render.END_CONFIRM_ACTION, Role.ADMIN, self._end, replace_original=True),
            ButtonAction(CANCEL_ACTION, Role.MODERATOR, self._cancel, replace_original=True),
        ]

    async def _alert(self, value: str) -> Alert | Reply:
        alert_id = value.split(" ")[0]
        if self.desk.share is not None:  # replicas: as the shared state has it now
            try:
                alert = await self.desk.load_shared(alert_id)
            except SharedStateError:
                return Reply(TRY_AGAIN)
        else:
            alert = self.desk.alerts.get(alert_id)
        if alert is None:
            return Reply(UNKNOWN.format(queue=self.desk.slash_queue))
        if alert.status is not Status.OPEN:
            return Reply(render.already_handled(alert))
        return alert

    async def _kick(self, ctx: ActionContext, click: Click) -> Reply:
        alert = await self._alert(click.value)
        if isinstance(alert, Reply):
            return alert
        if alert.user_id is None or alert.call_cid is None:
            return Reply(":warning: This alert names no user in a call to kick.")
        line = f"kick {alert.user_id} {alert.call_cid} Stream alert {alert.id}"
        return await self._act(alert, ctx.actor, line, "kick_user", "kicked from the call")

    async def _mute(self, ctx: ActionContext, click: Click) -> Reply:
        alert = await self._alert(click.value)
        if isinstance(alert, Reply):
            return alert
        _, _, choice = click.value.partition(" ")
        tracks = TRACKS.get(choice)
        if tracks is None or alert.user_id is None or alert.call_cid is None:
            return Reply(":warning: That mute choice is not one callmod knows; nothing was sent.")
        line = f"mute {alert.user_id} {alert.call_cid} {tracks}"
        return await self._act(alert, ctx.actor, line, "mute", f"muted {choice}")

    async def _review(self, ctx: ActionContext, click: Click) -> Reply:
        alert = await self._alert(click.value)
        if isinstance(alert, Reply):
            return alert
        return await self._act(alert, ctx.actor, None, "mark_reviewed", "reviewed")

    async def _ask_end(self, ctx: ActionContext, click: Click) -> Reply:
        alert = await self._alert(click.value)
        if isinstance(alert, Reply):
            return alert
        if alert.call_cid is None:
            return Reply(":warning: This alert names no call to end.")
        prompt = (
            f":warning: Really end {code(alert.call_cid)} for everyone in it? Everyone is "
            "disconnected, and Stream's review queue is told."
        )
        return Reply(
            prompt,
            blocks.to_dicts(
                [
                    blocks.section(prompt),
                    blocks.actions(
                        [
                            Button("End call", render.END_CONFIRM_ACTION, alert.id, "danger"),
                            Button("Cancel", CANCEL_ACTION, alert.id),
                        ]
                    ),
                ]
            ),
            outcome="confirm",
        )

    async def _end(self, ctx: ActionContext, click: Click) -> Reply:
        alert = await self._alert(click.value)
        if isinstance(alert, Reply):
            return alert
        assert alert.call_cid is not None
        line = f"endcall {alert.call_cid} Stream alert {alert.id}"
        return await self._act(alert, ctx.actor, line, "end_call", "call ended")

    async def _cancel(self, ctx: ActionContext, click: Click) -> Reply:
        return Reply("Cancelled; nothing was changed.", outcome="cancelled")

    async def _act(
        self, alert: Alert, actor: Actor, line: str | None, decision: str, verb: str
    ) -> Reply:
        desk = self.desk
        if desk.share is not None:  # replicas: claimed on every replica before acting
            try:
                held = await desk.claim_shared(alert, actor)
            except SharedStateError:
                return Reply(TRY_AGAIN)
            if held is not None:
                return Reply(
                    f"This alert was already handled by {blocks.mention(held)}; nothing was "
                    "sent to Stream."
                )
        # Claimed before any await: a second click finds it taken.
        alert.status = Status.CLAIMED
        alert.handled_by = actor.user_id
        reason = f"{verb} by {actor.user_name} in Slack (callmod alert {alert.id})"
        refused: list[str] = []
        told: list[bool] = []

        async def tell_stream() -> Reply | None:
            problem = await desk.tell_stream(alert, decision, actor, reason)
            if problem is None:
                told.append(True)
                return None
            refused.append(problem)
            return Reply(f":x: {problem}. Nothing else was done; the alert keeps its buttons.")

        try:
            if line is None:
                stopped = await tell_stream()
                reply, label = stopped or Reply(":white_check_mark: Marked reviewed."), ""
                done = stopped is None
            else:
                if desk.run_line is None:
                    raise RuntimeError("the alert desk is not bound to a dispatcher")
                reply, ticket = await desk.run_line(line, actor, tell_stream)
                done = reply.outcome == "done" and ticket is not None
                label = ticket.label if ticket is not None else ""
        except BaseException:
            desk.release(alert, None)
            await desk.show_quietly(alert)
            raise
        if not done:
            if told and reply.outcome == "done":
                # Stream's queue took the decision (and may have acted on it itself, ⚠); the
                # command found nothing more to do: decided, without a case of callmod's.
                desk.decide(alert, Status.ACTIONED, actor, "", verb)
                alert.decision = f"{alert.decision}\n_(callmod: {_plain(reply.text)})_"
            else:
                why = refused[0] if refused else (_plain(reply.text) if told else None)
                desk.release(alert, why)
            note = await desk.show_quietly(alert)
            return Reply(reply.text + note, reply.blocks, outcome=reply.outcome)
        status = Status.REVIEWED if line is None else Status.ACTIONED
        desk.decide(alert, status, actor, label, verb)
        note = await desk.show_quietly(alert)
        if line is None:
            return Reply(reply.text + note)
        return Reply(reply.text + note, reply.blocks, outcome=reply.outcome)
