"""Retrying remote requests that failed for a passing reason, with exponential backoff.

A refused or dropped connection, a timeout, or a 5xx answer is *transient*: the same request
may well succeed a moment later. A missing object, a denied permission or a bad argument is
not, and is never retried. Libraries wrap their errors (s3fs turns a botocore error into an
``OSError``), so the whole chain of causes is examined.
"""

from __future__ import annotations

import asyncio
import errno
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

ATTEMPTS = 6
BASE_DELAY = 0.2  # seconds before the second attempt; doubles each time, with jitter
MAX_DELAY = 5.0

_TRANSIENT_ERRNOS = {errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE,
                     errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EAGAIN}
# Exception classes of botocore, aiohttp, urllib3 and fsspec, matched by name so that none of
# those libraries has to be imported to classify an error.
_TRANSIENT_NAMES = {
    "EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError",
    "ConnectTimeoutError", "ClientConnectorError", "ServerDisconnectedError", "ClientOSError",
    "ClientPayloadError", "IncompleteRead", "ResponseStreamingError", "FSTimeoutError",
    "ServerTimeoutError", "ProtocolError", "HTTPClientError", "ResponseParserError",
}
_PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
              FileExistsError, ValueError, TypeError)


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    first = True
    for e in _chain(exc):
        if first and isinstance(e, _PERMANENT):
            return False
        first = False
        if isinstance(e, (ConnectionError, TimeoutError)):
            return True
        if type(e).__name__ in _TRANSIENT_NAMES:
            return True
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNOS:
            return True
        status = _status(e)
        if status is not None and (status >= 500 or status == 429):
            return True
    return False


def with_retries(fn: Callable[[], T], attempts: int | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``fn`` until it succeeds, retrying transient failures with backoff."""
    attempts = attempts or ATTEMPTS
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified, re-raised when not transient
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            sleep(_delay(attempt))
    raise AssertionError("unreachable")


async def with_retries_async(make: Callable[[], Awaitable[T]], attempts: int | None = None) -> T:
    """:func:`with_retries` for a coroutine: ``make()`` gives a fresh awaitable per attempt."""
    attempts = attempts or ATTEMPTS
    for attempt in range(attempts):
        try:
            return await make()
        except Exception as exc:  # noqa: BLE001 - classified, re-raised when not transient
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            await asyncio.sleep(_delay(attempt))
    raise AssertionError("unreachable")


def _delay(attempt: int) -> float:
    """Exponential backoff with jitter, so that many clients do not retry in step."""
    return min(MAX_DELAY, BASE_DELAY * (2 ** attempt)) * (0.5 + random.random() / 2)
