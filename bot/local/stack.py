"""callmod wired to the embedded Stream emulator and the recording fake Slack, in one process.

The console runs on it, and so do the end-to-end tests: requests reach Bolt over a real socket,
signed exactly as Slack signs them; callmod reaches the emulator over a real socket too.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.cases import CaseStore
from bot.local.emulator import StreamEmulator
from bot.local.fake_slack import FakeSlack
from bot.local.fake_socket_mode import FakeSocketMode
from bot.local.slack_driver import SlackDriver, SlashResult
from bot.runtime.callmod import Callmod
from bot.runtime.channels import resolve_channels
from bot.settings import Settings
from bot.slack.socket_mode import SocketMode, open_socket_mode
from bot.util.clock import Clock, ManualClock, SystemClock

_template: Path | None = None


async def copy_migrated_template(target: Path) -> None:
    """A new, already migrated SQLite case store at `target`: migrating from scratch for every
    stack would cost each test its time, so one migrated file per process is copied."""
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="callmod-template-"))
        url = f"sqlite+aiosqlite:///{folder}/template.db"
        await (await CaseStore.open(url, clock=SystemClock())).close()
        _template = folder / "template.db"
    shutil.copyfile(_template, target)


@dataclass(frozen=True)
class Person:
    user_id: str
    user_name: str


ADMIN = Person("U0ADMIN01", "maria")
MODERATOR = Person("U0MODER01", "tom")
OUTSIDER = Person("U0GUEST01", "guest")
LOG_CHANNEL = "C0MODLOG"
REQUESTS_CHANNEL = "C0MODREQ"
BOT_TOKEN = "xoxb-local-console"
RECONCILE_SECONDS = 7 * 86_400.0


class LocalStack:
    def __init__(
        self,
        *,
        clock: Clock,
        stream_deadline: float = 8.0,
        rehydrate: bool = True,
        socket_mode: bool = False,
        **settings: Any,
    ) -> None:
        """`socket_mode`: Slack reaches callmod over Socket Mode (`SLACK_APP_TOKEN`), through
        the stand-in `self.socket`, as well as over HTTP (`self.driver`)."""
        self.clock = clock
        # The Stream client's retry backoff runs on its own clock, so that with a ManualClock the
        # tests need not step time for every retry; with a live clock they share it.
        self.stream_clock: Clock = (
            ManualClock(clock.time(), autoadvance=True) if isinstance(clock, ManualClock) else clock
        )
        self.emulator = StreamEmulator(clock=clock)
        self.slack = FakeSlack(bot_token=BOT_TOKEN, clock=clock)
        self.socket = FakeSocketMode(self.slack) if socket_mode else None
        self.socket_connection: SocketMode | None = None
        self._deadline = stream_deadline
        self._rehydrate = rehydrate
        self._overrides = settings
        self.signing_secret = secrets.token_hex(16)
        self.callmod: Callmod | None = None
        self.store: CaseStore | None = None
        self.driver: SlackDriver | None = None
        # A throwaway SQLite case store unless DATABASE_URL is given (console and tests).
        self._database_dir: tempfile.TemporaryDirectory[str] | None = None
        self.database_url = str(settings.get("database_url") or "")
        if not self.database_url:
            self._database_dir = tempfile.TemporaryDirectory(prefix="callmod-cases-")
            self.database_url = f"sqlite+aiosqlite:///{self._database_dir.name}/callmod.db"

    async def start(self) -> None:
        if self._database_dir is not None:
            await copy_migrated_template(Path(self._database_dir.name) / "callmod.db")
        await self.emulator.start(host="127.0.0.1", port=0)
        await self.slack.start()
        if self.socket is not None:
            await self.socket.start()
        self.slack.users.update({p.user_id: p.user_name for p in (ADMIN, MODERATOR, OUTSIDER)})
        await self.start_callmod()

    async def start_callmod(self) -> Callmod:
        """(Re)start callmod alone, as after a deploy: the emulator and the case store keep
        their state. Channel names in the settings are resolved to ids with the fake Slack,
        as `serve` does with Slack (`ConfigError` when one cannot be used)."""
        settings = await resolve_channels(self.settings())
        url = settings.database_url.get_secret_value()
        self.store = await CaseStore.open(url, clock=self.clock)
        self.callmod = Callmod(
            settings, clock=self.clock, store=self.store, stream_clock=self.stream_clock
        )
        base = await self.callmod.start("127.0.0.1", 0, rehydrate=self._rehydrate)
        self.emulator.webhook_url = f"{base}/stream/webhook"
        if self.driver is not None:
            await self.driver.close()
        self.driver = SlackDriver(f"{base}/slack/events", self.signing_secret, self.slack)
        if self.socket is not None:  # connected as `serve` connects
            socket = self.socket
            self.socket_connection = await open_socket_mode(
                self.callmod.bolt, socket.app_token, inflight=self.callmod.inflight
            )
            await socket.wait_for(lambda: socket.connected)
        return self.callmod

    def settings(self) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": self.signing_secret,
            "slack_api_url": self.slack.api_url,
            "stream_api_key": self.emulator.api_key,
            "stream_api_secret": self.emulator.api_secret,
            "stream_base_url": self.emulator.base_url,
            "stream_deadline": self._deadline,
            "mod_admins": [ADMIN.user_id],
            "mod_moderators": [MODERATOR.user_id],
            "mod_log_channel": LOG_CHANNEL,
            "mod_requests_channel": REQUESTS_CHANNEL,
            "database_url": self.database_url,
            # Tests move the clock by hours; a reconciliation every 5 minutes would interleave
            # with what each test is about. Tests of reconciliation ask for it.
            "mod_reconcile_seconds": RECONCILE_SECONDS,
        }
        if self.socket is not None:
            values["slack_app_token"] = self.socket.app_token
        values.update(self._overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    async def stop_callmod(self) -> None:
        if self.socket_connection is not None:
            await self.socket_connection.close()
            self.socket_connection = None
        if self.callmod is not None:
            await self.callmod.stop()
            self.callmod = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def stop(self) -> None:
        if self.driver is not None:
            await self.driver.close()
        await self.stop_callmod()
        await self.emulator.stop()
        if self.socket is not None:
            await self.socket.stop()
        await self.slack.stop()
        if self._database_dir is not None:
            self._database_dir.cleanup()

    async def slash(self, line: str, who: Person = ADMIN, *, trigger: bool = True) -> SlashResult:
        """`/kick sara call-123` as `who`; returns once callmod has finished all its work.
        `trigger=False`: no trigger_id, so `/ban sara` is the typed ban, not the form."""
        assert self.driver is not None
        command, _, text = line.strip().partition(" ")
        result = await self.driver.slash(
            command, text, user_id=who.user_id, user_name=who.user_name, trigger=trigger
        )
        await self.idle()
        return result

    async def idle(self) -> None:
        assert self.callmod is not None
        for _ in range(3):
            await self.emulator.wait_webhooks_idle()
            await self.callmod.idle()

    def replies(self, result: SlashResult) -> list[str]:
        return [r.text for r in self.slack.responses_for(result.response_key) if r.status == 200]

    def log_lines(self) -> list[str]:
        return [m.text for m in self.slack.messages_in(LOG_CHANNEL)]
