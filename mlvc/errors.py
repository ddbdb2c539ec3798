"""The one exception tree of mlvc.

::

    MlvcError                     message + optional hint; the CLI prints both, exit code 1
    ├── NotAProjectError          no .mlvc/ above the working folder
    ├── PathError                 a path escapes the project, is inside .mlvc/, or is not allowed
    ├── TargetError               a missing target, git-tracked, or inside a tracked directory
    ├── FormatError               a malformed pointer, manifest, config or other file (names it)
    │   └── CorruptObjectError    an object whose bytes do not match its oid, or a bad manifest
    ├── ObjectMissingError        an object the operation needs is not in the cache
    ├── ConfigError               an unknown key or a bad value
    ├── RemoteError               no such remote, or it cannot be reached or used
    ├── PipelineError             a cycle, clashing outputs, an unknown stage, a missing param
    ├── ConfirmationRequired      the CLI must ask the user, then call again with force
    ├── LockError                 the repository lock could not be taken
    └── ScmError                  git said no

Core code raises these; only ``mlvc.cli`` turns them into ``error:``/``hint:`` lines.
"""

from __future__ import annotations

import errno

# A full disk (or quota) is named in the same words wherever it happens, in every locale, so
# that the CLI can give its own hint.
NO_SPACE = "no space left on the device"
NO_SPACE_HINT = ("free some disk space, then run the command again: what was written is "
                 "whole, and the rest is done then")


def is_no_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class MlvcError(Exception):
    """Base of every error mlvc reports to a user."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        # Errors cross process boundaries (forked workers): rebuild them with their fields.
        return _rebuild, (type(self), self.__dict__)


def _rebuild(cls: type, state: dict) -> MlvcError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, state.get("message", ""))
    exc.__dict__.update(state)
    return exc


class NotAProjectError(MlvcError):
    pass


class PathError(MlvcError):
    pass


class TargetError(MlvcError):
    pass


class FormatError(MlvcError):
    pass


class CorruptObjectError(FormatError):
    def __init__(self, oid: str, message: str | None = None, hint: str | None = None) -> None:
        super().__init__(message or f"object {oid} is corrupt: its bytes do not match its oid", hint)
        self.oid = oid


class ObjectMissingError(MlvcError):
    pass


class ConfigError(MlvcError):
    pass


class RemoteError(MlvcError):
    pass


class PipelineError(MlvcError):
    pass


class ConfirmationRequired(MlvcError):
    pass


class LockError(MlvcError):
    pass


class ScmError(MlvcError):
    pass
