"""Cases through the real stack: every action records one, /cases and /case read and amend them,
History buttons open a user's history, and restarts remember the notification of a ban."""

from __future__ import annotations

import asyncio

from bot.cases import CaseStore, Kind, NoteKind, Outcome, Source
from bot.local.stack import ADMIN, MODERATOR, OUTSIDER, LocalStack
from bot.moderation.history.render import HISTORY_ACTION
from bot.stream import StreamClient
from bot.util.clock import ManualClock

from .cmdtest import UNBAN, ban_notifications, blocks_text, click, find_button, slash

PAGE_ACTION = "callmod_cases_page"


def store(stack: LocalStack) -> CaseStore:
    assert stack.store is not None
    return stack.store


async def restart(stack: LocalStack, *, stopped: bool = False) -> None:
    if not stopped:
        await stack.stop_callmod()
    callmod = await stack.start_callmod()
    await callmod.bans.rehydrated.wait()
    await stack.idle()


async def test_every_action_records_a_numbered_case_with_who_what_and_why(
    stack: LocalStack,
) -> None:
    mute = await slash(stack, "/mute sara,john call-123 video", MODERATOR)
    kick = await slash(stack, "/kick sara call-123")
    ban = await slash(stack, "/ban bob 2h spamming")

    assert mute.log[0].endswith("· :white_check_mark: done · Cases #1, #2")
    assert mute.reply.endswith("\n_Cases #1, #2_")
    assert kick.log == [
        "<@U0ADMIN01> · kick `sara` from `default:call-123` · :white_check_mark: done · Case #3"
    ]
    assert kick.reply.endswith("\n_Case #3_")
    assert ban.reply.endswith("\n_Case #4_")
    first = await store(stack).get(3)
    assert first is not None
    assert (first.kind, first.source, first.outcome) == (Kind.KICK, Source.SLACK, Outcome.DONE)
    assert (first.target_user_id, first.call_cid) == ("sara", "default:call-123")
    assert first.moderator is not None and first.moderator.id == ADMIN.user_id
    assert first.request_id not in ("", "-")
    [(message)] = first.messages
    assert message.channel_id == "C0MODLOG" and message.purpose.value == "audit"
    banned = await store(stack).get(4)
    assert banned is not None and banned.reason == "spamming"
    assert banned.duration_seconds == 7200 and banned.expires_at is not None
    [notification] = ban_notifications(stack, "bob")
    assert [(m.channel_id, m.ts) for m in banned.messages] == [("C0MODLOG", notification.ts)]
    assert "Case #4 · 1st ban; no earlier cases" in blocks_text(notification.blocks)
    assert find_button(notification.blocks, HISTORY_ACTION) == "bob"


async def test_a_failed_action_is_recorded_as_failed(stack: LocalStack) -> None:
    out = await slash(stack, "/kick nobody call-123")
    assert out.reply.startswith(":x: Could not kick `nobody`")
    case = await store(stack).get(1)
    assert case is not None and case.outcome is Outcome.FAILED
    assert out.log[0].endswith("· Case #1")


async def test_cases_lists_a_users_history_newest_first_with_counts(stack: LocalStack) -> None:
    await slash(stack, "/ban sara 1h flooding")
    await slash(stack, "/unban sara")
    await slash(stack, "/mute sara call-123")
    await slash(stack, "/kick john call-123")
    await slash(stack, "/kick sara call-123")

    out = await slash(stack, "/cases sara", MODERATOR)

    header, *lines = out.reply.split("\n")
    assert header == "*History of `sara`* — 1 ban, 1 unban, 1 kick, 1 mute"
    assert [line.split(" · ")[0] for line in lines] == ["*#5*", "*#3*", "*#2*", "*#1*"]
    assert "reason: flooding" in lines[3] and "by <@U0ADMIN01>" in lines[3]


async def test_cases_are_paged_with_a_next_button(stack: LocalStack) -> None:
    for _ in range(25):
        await slash(stack, "/kick sara call-123")
    first = await slash(stack, "/cases @sara")
    assert first.reply.count("\n*#") == 20
    value = find_button(first.response_blocks[0], PAGE_ACTION)
    assert value is not None
    second = await click(stack, PAGE_ACTION, value, response_key=first.key)
    assert second.reply.startswith("*History of `sara`* — 25 kicks (older than #6)")
    assert [line.split(" · ")[0] for line in second.reply.split("\n")[1:]] == [
        f"*#{n}*" for n in range(5, 0, -1)
    ]
    assert find_button(second.response_blocks[0], PAGE_ACTION) is None


async def test_cases_by_a_moderator(stack: LocalStack) -> None:
    await slash(stack, "/kick sara call-123", MODERATOR)
    await slash(stack, "/kick john call-123")
    out = await slash(stack, "/cases by <@U0MODER01|tom>")
    assert out.reply.startswith("*Cases by <@U0MODER01>*\n*#1* ·")
    assert "#2" not in out.reply
    assert (await slash(stack, "/cases by U0NOBODY1")).reply == "No cases by <@U0NOBODY1>."


async def test_case_shows_notes_and_amendments_in_order(stack: LocalStack) -> None:
    await slash(stack, "/ban bob 2h spam", MODERATOR)
    await slash(stack, "/case 1 note seen again in call-9", MODERATOR)
    changed = await slash(stack, "/case 1 reason spam & <!channel> links", MODERATOR)
    assert changed.reply.startswith(
        ":pencil2: The reason of case #1 is now: spam &amp; &lt;!channel&gt; links"
    )

    out = await slash(stack, "/case #1", MODERATOR)

    assert "*Case #1* · ban" in out.reply
    assert "Reason: spam &amp; &lt;!channel&gt; links" in out.reply
    notes = out.reply.split("\n• ")[1:]
    assert notes[0].endswith("<@U0MODER01>: seen again in call-9")
    assert "changed the reason from spam to spam &amp; &lt;!channel&gt; links" in notes[1]


async def test_amending_a_reason_edits_the_announcing_messages(stack: LocalStack) -> None:
    await slash(stack, "/ban bob 2h spam")
    await slash(stack, "/kick sara call-123 --block")
    [notification] = ban_notifications(stack, "bob")

    banned = await slash(stack, "/case 1 reason repeated spam")
    kicked = await slash(stack, "/case 2 reason trolling")

    assert "Updated the message that announced it" in banned.reply
    assert "Reason: repeated spam" in blocks_text(notification.blocks)
    assert notification.history  # edited in place, not posted again
    [audit] = [m for m in stack.slack.messages_in("C0MODLOG") if "kick `sara`" in m.text]
    assert audit.text == (
        "<@U0ADMIN01> · kick `sara` from `default:call-123` and block them · reason: trolling "
        "· :white_check_mark: done · Case #2"
    )
    assert "Updated the message" in kicked.reply


async def test_two_moderators_amending_at_once_keep_both_notes_in_order(
    stack: LocalStack,
) -> None:
    await slash(stack, "/kick sara call-123")
    await asyncio.gather(
        stack.slash("/case 1 reason first", ADMIN), stack.slash("/case 1 reason second", ADMIN)
    )
    case = await store(stack).get(1)
    assert case is not None
    changes = [n for n in case.notes if n.kind is NoteKind.REASON_CHANGED]
    assert len(changes) == 2
    assert changes[0].old_value is None and changes[1].old_value == changes[0].text
    assert case.reason == changes[1].text


async def test_another_moderators_case_needs_an_admin_to_amend_and_void_is_admin_only(
    stack: LocalStack,
) -> None:
    await slash(stack, "/kick sara call-123")  # by the admin
    denied = await slash(stack, "/case 1 reason whatever", MODERATOR)
    assert denied.reply.startswith(":lock: Case #1 was recorded by <@U0ADMIN01>")
    void = await slash(stack, "/case 1 void mistaken", MODERATOR)
    assert void.reply.startswith(":lock: You need the *admin* role")
    case = await store(stack).get(1)
    assert case is not None and case.reason is None and case.voided is None and not case.notes

    done = await slash(stack, "/case 1 void wrong user")
    assert done.reply.startswith(":wastebasket: Case #1 is void")
    listed = await slash(stack, "/cases sara")
    assert listed.reply.split("\n")[1].startswith("~*#1*") and "_voided_" in listed.reply
    assert "no cases" in listed.reply.split("\n")[0]


async def test_bad_case_input_gets_a_sentence_and_usage_and_changes_nothing(
    stack: LocalStack,
) -> None:
    await slash(stack, "/kick sara call-123")
    for line, said in [
        ("/case 99", "There is no case #99; nothing was changed."),
        ("/case 1 frob", "`frob` is not one of note, reason or void"),
        ("/case one", "`one` is not a case number"),
        ("/case 1 note " + "x" * 2001, "the note is longer than 2000 characters"),
        ("/case 1 note", "say what the note is"),
        ("/cases", "some arguments are missing"),
        ("/cases by", "some arguments are missing"),
        ("/cases by nobody!", "is not a Slack user"),
    ]:
        out = await slash(stack, line)
        assert said in out.reply, line
        assert "Usage: `/case" in out.reply or "Usage: `/cases" in out.reply, line
    case = await store(stack).get(1)
    assert case is not None and not case.notes
    assert (await slash(stack, "/cases sara", OUTSIDER)).reply.startswith(":lock:")


async def test_history_button_opens_the_users_history(stack: LocalStack) -> None:
    await slash(stack, "/kick sara call-123")
    [audit] = stack.slack.messages_in("C0MODLOG")
    assert find_button(audit.blocks, HISTORY_ACTION) == "sara"

    out = await click(stack, HISTORY_ACTION, "sara", MODERATOR, message=audit)
    assert out.reply.startswith("*History of `sara`* — 1 kick\n*#1* ·")
    denied = await click(stack, HISTORY_ACTION, "sara", OUTSIDER, message=audit)
    assert denied.reply.startswith(":lock:")


async def test_an_audit_line_naming_several_users_has_a_history_button_for_each(
    stack: LocalStack,
) -> None:
    await slash(stack, "/mute sara,john call-123 audio")
    [audit] = stack.slack.messages_in("C0MODLOG")  # Slack took it: each action_id is distinct
    [row] = [b for b in audit.blocks if b["type"] == "actions"]
    ids = [(e["action_id"], e["value"]) for e in row["elements"]]
    assert ids == [(HISTORY_ACTION, "sara"), (f"{HISTORY_ACTION}~2", "john")]

    out = await click(stack, f"{HISTORY_ACTION}~2", "john", MODERATOR, message=audit)
    assert out.reply.startswith("*History of `john`* — 1 mute")
    denied = await click(stack, f"{HISTORY_ACTION}~2", "john", OUTSIDER, message=audit)
    assert denied.reply.startswith(":lock:")


async def test_permission_decisions_are_cases(stack: LocalStack) -> None:
    await stack.emulator.raise_permission_request("default:call-123", "john", ["send-audio"])
    await stack.idle()
    [request] = stack.slack.messages_in("C0MODREQ")
    value = find_button(request.blocks, "callmod_request_approve")
    assert value is not None
    out = await click(stack, "callmod_request_approve", value, MODERATOR, message=request)
    assert out.reply.endswith("_Case #1_")
    case = await store(stack).get(1)
    assert case is not None and case.kind is Kind.REQUEST_APPROVED
    assert case.target_user_id == "john" and case.call_cid == "default:call-123"


async def test_bans_from_stream_and_expiries_are_cases(
    stack: LocalStack, clock: ManualClock
) -> None:
    emulator = stack.emulator
    async with StreamClient(emulator.api_key, emulator.api_secret, emulator.base_url) as other:
        await other.ban("sara", banned_by_id="john", reason="spam", timeout_minutes=60)
    await stack.idle()
    await clock.advance(3601)
    await stack.idle()
    history = await store(stack).history_for_user("sara")
    kinds = [(c.kind, c.source) for c in history.cases]
    assert kinds == [(Kind.BAN_EXPIRED, Source.CALLMOD), (Kind.BAN, Source.STREAM)]


async def test_after_a_restart_expiry_closes_the_original_notification(
    stack: LocalStack, clock: ManualClock
) -> None:
    await slash(stack, "/ban sara 1h spam")
    [notification] = ban_notifications(stack, "sara")
    await restart(stack)

    await clock.advance(3601)
    await stack.idle()

    text = blocks_text(notification.blocks)
    assert "Expired at" in text and find_button(notification.blocks, UNBAN) is None
    assert "banned by <@U0ADMIN01>" in text and "Reason: spam" in text


async def test_after_a_restart_an_unban_click_on_an_ended_ban_changes_nothing(
    stack: LocalStack,
) -> None:
    await slash(stack, "/ban sara 1h spam")
    [notification] = ban_notifications(stack, "sara")
    await stack.stop_callmod()
    stack.emulator.state.unban("sara", unbanned_by=None)  # lifted in Stream while callmod was down
    await restart(stack, stopped=True)
    before = len(stack.emulator.requests)

    out = await click(stack, UNBAN, "sara", ADMIN, message=notification)

    assert out.reply.startswith("That ban of `sara` has already ended; nothing was changed.")
    assert [r for r in stack.emulator.requests[before:] if r.method == "POST"] == []
