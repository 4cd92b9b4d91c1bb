"""The case store: a durable, numbered record of every moderation action.

Knows nothing of Slack, HTTP or Stream: callers hand it plain values. Start with::

    store = await CaseStore.open(settings.database_url, clock=clock)  # migrates the schema
    case = await store.record(NewCase(kind=Kind.KICK, source=Source.SLACK, ...))
    await store.link_message(case.number, channel_id, ts, MessagePurpose.AUDIT)

`CaseStoreUnavailable` from `open()` means DATABASE_URL is unusable (exit 2); every other failure
is a `CaseStoreError`. See `store.py` for the storage choices and `models.py` for the values.
"""

from bot.cases.database import DEFAULT_DATABASE_URL
from bot.cases.errors import CaseAlreadyVoided, CaseNotFound, CaseStoreError, CaseStoreUnavailable
from bot.cases.models import (
    Actor,
    Case,
    CaseMessage,
    CasePage,
    Kind,
    MessagePurpose,
    NewCase,
    Note,
    NoteKind,
    Outcome,
    Source,
    Voided,
)
from bot.cases.store import CSV_COLUMNS, MAX_PAGE, CaseStore

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_DATABASE_URL",
    "MAX_PAGE",
    "Actor",
    "Case",
    "CaseAlreadyVoided",
    "CaseMessage",
    "CaseNotFound",
    "CasePage",
    "CaseStore",
    "CaseStoreError",
    "CaseStoreUnavailable",
    "Kind",
    "MessagePurpose",
    "NewCase",
    "Note",
    "NoteKind",
    "Outcome",
    "Source",
    "Voided",
]
