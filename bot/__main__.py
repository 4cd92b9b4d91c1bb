"""`python -m bot serve | console | manifest | cases export`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from datetime import UTC, datetime
from typing import TextIO

from bot.settings import ConfigError, Settings, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="serve Slack and Stream webhooks over HTTP (or Socket Mode)")
    console = sub.add_parser("console", help="the local demo: type slash commands in a terminal")
    console.add_argument("--as", dest="who", default="admin", help="admin, moderator or a U… id")
    man = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    man.add_argument("--url", default=None, help="public /slack/events URL")
    man.add_argument("--socket-mode", action="store_true")
    man.add_argument(
        "--prefix",
        default="",
        help="put this before every command name but /mod (cm- gives /cm-kick); "
        "set MOD_COMMAND_PREFIX to the same",
    )
    cases = sub.add_parser("cases", help="the case store: export cases as CSV")
    cases_sub = cases.add_subparsers(dest="cases_command", required=True)
    export = cases_sub.add_parser("export", help="write cases as CSV to standard output")
    export.add_argument("--since", default="30d", help="how far back: 30d, 12h, 2w (default 30d)")
    args = parser.parse_args(argv)

    if args.command == "cases":
        return asyncio.run(export_cases(args.since, sys.stdout))

    if args.command == "manifest":
        from bot.slack.manifest import PLACEHOLDER_URL, manifest_yaml
        from commands import build_registry

        url = args.url or PLACEHOLDER_URL
        try:
            text = manifest_yaml(
                build_registry(), url=url, socket_mode=args.socket_mode, prefix=args.prefix
            )
        except ValueError as error:
            print(f"callmod: --prefix: {error}", file=sys.stderr)
            return 2
        sys.stdout.write(text)
        return 0
    if args.command == "console":
        from bot.local.console import run_console

        try:
            return asyncio.run(run_console(who=args.who))
        except KeyboardInterrupt:
            print()
            return 130

    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"callmod: {error}", file=sys.stderr)
        return 2
    if not settings.slack_mode:
        print(
            "callmod: SLACK_BOT_TOKEN is not set: set it (see README) to serve Slack, "
            "or run `make demo` for the local console",
            file=sys.stderr,
        )
        return 2
    from bot.runtime.logs import configure_logging

    configure_logging(settings.log_format, settings.log_level)
    return asyncio.run(serve(settings))


async def serve(settings: Settings) -> int:
    from bot.cases import CaseStore, CaseStoreUnavailable
    from bot.core.presets import presets_of
    from bot.runtime.callmod import Callmod
    from bot.runtime.channels import resolve_channels
    from bot.runtime.heap import settle
    from bot.runtime.listen import check_can_listen, inherited_socket
    from bot.util.clock import SystemClock

    log = logging.getLogger("callmod")
    clock = SystemClock()
    try:
        presets_of(settings)  # MOD_REASON_PRESETS: read and checked once, before anything else
        sock = inherited_socket()  # systemd socket activation: LISTEN_FDS, LISTEN_PID
        if sock is None:
            await check_can_listen(settings.host, settings.port)  # a busy PORT, a foreign HOST
    except ConfigError as error:
        print(f"callmod: {error}", file=sys.stderr)
        return 2
    try:
        store = await CaseStore.open(settings.database_url.get_secret_value(), clock=clock)
    except CaseStoreUnavailable as error:
        print(f"callmod: {error}", file=sys.stderr)
        return 2
    try:
        settings = await resolve_channels(settings)  # names → ids; the bot must be in them
    except ConfigError as error:
        print(f"callmod: {error}", file=sys.stderr)
        await store.close()
        return 2
    emulator = None
    if settings.stream_emulated:
        from bot.local.emulator import StreamEmulator

        emulator = StreamEmulator(clock=clock)
        await emulator.start(host="127.0.0.1", port=0)
        # Validated again, so the secret is a SecretStr as Callmod expects (model_copy would
        # keep the raw str and fail at `get_secret_value`).
        settings = settings.with_values(
            stream_api_key=emulator.api_key,
            stream_api_secret=emulator.api_secret,
            stream_base_url=emulator.base_url,
        )
        log.warning("STREAM_API_KEY is not set: using the embedded Stream emulator")
    callmod = Callmod(settings, clock=clock, store=store)
    try:
        base = await callmod.start(settings.host, settings.port, sock=sock)
    except ConfigError as error:  # HOST or PORT cannot be bound
        print(f"callmod: {error}", file=sys.stderr)
        await callmod.stop()
        await store.close()
        if emulator is not None:
            await emulator.stop()
        return 2
    if emulator is not None:
        emulator.webhook_url = f"{base}/stream/webhook"
    socket_mode = None
    if settings.slack_app_token is not None:
        from bot.slack.socket_mode import SocketModeRefused, open_socket_mode

        try:
            socket_mode = await open_socket_mode(
                callmod.bolt,
                settings.slack_app_token.get_secret_value(),
                inflight=callmod.inflight,
            )
        except SocketModeRefused as error:  # a bad app token: say so, do not retry forever
            print(f"callmod: {error}", file=sys.stderr)
            await callmod.stop()
            await store.close()
            if emulator is not None:
                await emulator.stop()
            return 2
    settle()
    if sock is None:
        log.info("callmod listening on %s:%s", settings.host, settings.port)
    else:
        log.info("callmod serving the socket it was handed (LISTEN_FDS) at %s", base)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    if socket_mode is not None:
        await socket_mode.close()
    await callmod.stop()
    await store.close()
    if emulator is not None:
        await emulator.stop()
    return 0


async def export_cases(since: str, out: TextIO) -> int:
    """`python -m bot cases export --since 30d`: the cases of the last 30 days as CSV."""
    from bot.cases import CaseStore, CaseStoreUnavailable
    from bot.core.parsing import UsageError, parse_duration
    from bot.util.clock import SystemClock

    try:
        settings = load_settings()
        window = parse_duration(since)
    except ConfigError as error:
        print(f"callmod: {error}", file=sys.stderr)
        return 2
    except UsageError as error:
        print(f"callmod: --since: {error} (e.g. 30d)", file=sys.stderr)
        return 2
    clock = SystemClock()
    try:
        store = await CaseStore.open(settings.database_url.get_secret_value(), clock=clock)
    except CaseStoreUnavailable as error:
        print(f"callmod: {error}", file=sys.stderr)
        return 2
    try:
        start = datetime.fromtimestamp(clock.time(), tz=UTC) - window
        written = await store.export_csv(start, out)
    finally:
        await store.close()
    print(f"callmod: exported {written} cases since {start:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
