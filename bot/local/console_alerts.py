"""Console lines that make the emulator raise Stream's moderation findings (issue 15):

  :flag <user> <call> <label>…     a call rule fires on the user's video (moderation_rule.triggered
                                   and a stream:v1:call review item: review_queue_item.new)
  :warn <user> <call> [message…]   call.moderation_warning
  :blur <user> <call>              call.moderation_blur
  :endpolicy <call>                call.ended with reason PolicyViolationModeration
"""

from __future__ import annotations

import shlex

from bot.core.parsing import UsageError, parse_call, parse_user
from bot.local.emulator import Invalid, NotFound, StreamEmulator

HELP = """\
  :flag <user> <call> <label>…       Stream's call moderation flags a user (e.g. nudity)
  :warn <user> <call> [message…]     Stream's call moderation warns a user
  :blur <user> <call>                Stream's call moderation blurs a user's video
  :endpolicy <call>                  Stream ends a call for a policy violation"""

WORDS = (":flag", ":warn", ":blur", ":endpolicy")
DEFAULT_WARNING = "Please keep your video appropriate"


def raise_finding(emulator: StreamEmulator, line: str) -> str:
    """Run one of the lines above; returns what the console prints. Bad input: UsageError."""
    words = shlex.split(line)
    word, args = words[0], words[1:]
    queue = emulator.moderation
    try:
        if word == ":endpolicy":
            if len(args) != 1:
                raise UsageError("usage: :endpolicy <call>")
            call = parse_call(args[0], "default")
            queue.end_for_policy(call.cid)
            return f"  (the emulator ended {call.cid} for a policy violation and sent call.ended)"
        if len(args) < 2:
            raise UsageError(f"usage: {word} <user> <call> …")
        user = parse_user(args[0])
        call = parse_call(args[1], "default")
        if word == ":flag":
            labels = tuple(args[2:]) or ("inappropriate",)
            item = queue.rule(user, call.cid, labels, image=FRAME.format(user=user))
            return (
                f"  (the emulator sent moderation_rule.triggered and review_queue_item.new "
                f"for {user}: item {item.id})"
            )
        if word == ":warn":
            queue.warn(user, call.cid, " ".join(args[2:]) or DEFAULT_WARNING)
            return f"  (the emulator sent call.moderation_warning for {user})"
        if word == ":blur":
            queue.blur(user, call.cid)
            return f"  (the emulator sent call.moderation_blur for {user})"
    except (Invalid, NotFound) as refusal:
        raise UsageError(f"the emulator refused: {refusal}") from None
    raise UsageError(f"unknown line {word}")


FRAME = "https://frames.stream-io-cdn.com/keyframes/{user}.jpg"
