"""The case store's exceptions: every failure it lets out is a `CaseStoreError`."""

from __future__ import annotations


class CaseStoreError(Exception):
    """Base class. The message is one line, fit for a log or a moderator."""


class CaseStoreUnavailable(CaseStoreError):
    """The database cannot be used: bad URL, unreachable server, refused login, corrupt or
    read-only SQLite file. Raised by `CaseStore.open` (the caller exits with status 2) and by any
    later operation whose database went away. Never carries the URL's password."""


class CaseNotFound(CaseStoreError, LookupError):
    def __init__(self, number: int) -> None:
        super().__init__(f"there is no case #{number}")
        self.number = number


class CaseAlreadyVoided(CaseStoreError):
    def __init__(self, number: int) -> None:
        super().__init__(f"case #{number} is already voided")
        self.number = number
