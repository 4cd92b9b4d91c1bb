"""`python -m bot.local.emulator`: run the Stream emulator alone, with demo data, until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from bot.local.emulator.emulator import StreamEmulator


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.local.emulator", description="Run the embedded Stream Video emulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=4010, help="TCP port (0: any free port)")
    parser.add_argument("--webhook-url", default=None, help="where to POST signed webhooks")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    emulator = StreamEmulator(webhook_url=args.webhook_url)
    base_url = await emulator.start(host=args.host, port=args.port)
    # Throwaway emulator credentials: printing them is the point.
    print(f"Stream emulator listening on {base_url}", flush=True)
    print(f"STREAM_BASE_URL={base_url}", flush=True)
    print(f"STREAM_API_KEY={emulator.api_key}", flush=True)
    print(f"STREAM_API_SECRET={emulator.api_secret}", flush=True)
    token = emulator.server_token()
    print(f"server token: {token}", flush=True)
    print(
        f'try: curl -X POST "{base_url}/api/v2/video/call/default/call-123/kick'
        f'?api_key={emulator.api_key}" -H "Authorization: {token}" -H "stream-auth-type: jwt"'
        """ -H "Content-Type: application/json" -d '{"user_id": "sara"}'""",
        flush=True,
    )
    print(f"webhooks: {args.webhook_url or 'not sent (no --webhook-url)'}", flush=True)
    print("Ctrl-C to stop.", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopped.set)
    try:
        await stopped.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
