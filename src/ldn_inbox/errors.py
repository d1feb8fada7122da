"""The one exception tree of ldn-inbox, and the exit code each kind of failure maps to.

* LdnInboxError            (exit 1 when raised bare)
  + ConfigError            exit 3: a config file, key or value is wrong; the message names the fix
  + SourceError            exit 4: a mailbox cannot be reached or read (IMAP, mbox, maildir, file)
    - TLSError             certificate or host name verification failed
    - AuthError            the server refused the login
  + DatabaseError          exit 5: the database is unreachable or its schema is not usable
    - MissingDatabaseError a command that reads found no database where it was pointed
  + ValidationError        exit 2: a value given by the user is not allowed by the codebook
    - ChangedError         the record changed since the reviewer was shown it
  + LockedError            exit 7: another run holds the lock
  + NotFoundError          exit 8: a message or record named by the user does not exist

The CLI is the only place that turns these into messages and exit codes. Exit 6 is not an
exception: it means the run finished but some messages were quarantined (stored raw with
their error, listed by ``ldn-inbox errors``).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README."""

    OK = 0
    BUG = 1
    USAGE = 2
    CONFIG = 3
    SOURCE = 4
    DATABASE = 5
    QUARANTINED = 6
    LOCKED = 7
    NOT_FOUND = 8
    INTERRUPTED = 130


class LdnInboxError(Exception):
    """Base of every error ldn-inbox raises on purpose."""

    exit_code: ExitCode = ExitCode.BUG


class ConfigError(LdnInboxError):
    """A configuration file, key or value is wrong."""

    exit_code = ExitCode.CONFIG


class SourceError(LdnInboxError):
    """A mail source (IMAP server, mbox, maildir, file) cannot be reached or read."""

    exit_code = ExitCode.SOURCE


class TLSError(SourceError):
    """TLS certificate or host name verification failed."""


class AuthError(SourceError):
    """The mail server refused the credentials."""


class DatabaseError(LdnInboxError):
    """The database cannot be reached, or its schema is not usable."""

    exit_code = ExitCode.DATABASE


class MissingDatabaseError(DatabaseError):
    """A command that only reads or changes stored records found no database to open."""


class ValidationError(LdnInboxError):
    """A value is not allowed by the codebook or its rules."""

    exit_code = ExitCode.USAGE


class ChangedError(ValidationError):
    """The record changed (another reviewer, a re-coding) since it was shown."""


class LockedError(LdnInboxError):
    """Another ldn-inbox run holds the lock."""

    exit_code = ExitCode.LOCKED


class NotFoundError(LdnInboxError):
    """A message or record named by the user does not exist."""

    exit_code = ExitCode.NOT_FOUND
