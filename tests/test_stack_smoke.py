from bot.local import LocalStack


async def test_kick_through_the_whole_stack(stack: LocalStack) -> None:
    result = await stack.slash("/kick sara call-123")
    assert result.status == 200
    assert stack.replies(result) == [":boot: `sara` was kicked from `default:call-123`."]
    assert "sara" not in stack.emulator.state.calls["default:call-123"].participants
    assert any("kick `sara`" in line for line in stack.log_lines())
