"""The command registry: each slash command declared once.

Bolt handlers, `/mod help`, the console's command list and `manifest.yml` are all generated from
the `Command` records that the `commands/` modules declare.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bot.core.context import ActionContext
from bot.core.model import Click, Plan, Reply, Role
from bot.settings import Settings

A = TypeVar("A")


@dataclass(frozen=True)
class Command(Generic[A]):
    """A slash command. `look_up`, when set, reads from Stream what the plan must say before
    anything is recorded or asked (the name a rename replaces, whether a call exists): it returns
    the arguments with that filled in, a `Reply` when there is nothing to do, or raises
    `UsageError` when the arguments name something that does not exist."""

    name: str
    family: str
    usage: str
    summary: str
    min_role: Role
    parse: Callable[[str, Settings], A]
    plan: Callable[[A], Plan]
    run: Callable[[ActionContext, A], Awaitable[Reply]]
    writes: bool = True
    confirm: bool = False
    required_role: Callable[[A], Role] | None = None
    look_up: Callable[[ActionContext, A], Awaitable[A | Reply]] | None = None

    @property
    def slash(self) -> str:
        return f"/{self.name}"

    @property
    def usage_line(self) -> str:
        return f"/{self.name} {self.usage}".rstrip()

    def role_needed(self, args: A) -> Role:
        needed = self.required_role(args) if self.required_role else self.min_role
        return max(needed, self.min_role)


@dataclass(frozen=True)
class ButtonAction:
    """A button callmod puts on messages; the role is checked on every click before `run`.

    `run` gets the `ActionContext` and the click; its reply goes to the clicker ephemerally, or
    replaces the clicked message when `replace_original` is set.
    """

    action_id: str
    min_role: Role
    run: Callable[[ActionContext, Click], Awaitable[Reply]]
    replace_original: bool = False


@dataclass
class Registry:
    commands: dict[str, Command[Any]] = field(default_factory=dict)
    buttons: dict[str, ButtonAction] = field(default_factory=dict)

    def add_button(self, button: ButtonAction) -> None:
        if button.action_id in self.buttons:
            raise ValueError(f"button {button.action_id} declared twice")
        self.buttons[button.action_id] = button

    def add(self, command: Command[Any]) -> None:
        if command.name in self.commands or command.name == "mod":
            raise ValueError(f"command /{command.name} declared twice")
        if len(command.slash) > 32:
            raise ValueError(f"/{command.name} is longer than Slack's 32 characters")
        self.commands[command.name] = command

    def extend(self, commands: Iterable[Command[Any]]) -> None:
        for command in commands:
            self.add(command)

    def get(self, name: str) -> Command[Any] | None:
        return self.commands.get(name.lstrip("/").lower())

    def __iter__(self) -> Iterator[Command[Any]]:
        return iter(self.commands.values())

    def __len__(self) -> int:
        return len(self.commands)

    def available_to(self, role: Role) -> list[Command[Any]]:
        return [command for command in self if command.min_role <= role]
