import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlvc.remote.retry import is_transient, with_retries


class FakeClientError(Exception):
    """Shaped like botocore's ClientError: a response dict with the HTTP status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.response = {"Error": {"Code": str(status)},
                         "ResponseMetadata": {"HTTPStatusCode": status}}


class EndpointConnectionError(Exception):
    """Named like botocore's: matched by name, botocore need not be imported."""


def wrapped(cause: BaseException, outer: BaseException) -> BaseException:
    try:
        raise outer from cause
    except BaseException as exc:  # noqa: BLE001
        return exc


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
    ConnectionResetError(errno.ECONNRESET, "reset"),
    TimeoutError("timed out"),
    OSError(errno.ETIMEDOUT, "timed out"),
    EndpointConnectionError("could not connect"),
    FakeClientError(503),
    FakeClientError(500),
    FakeClientError(429),
    wrapped(FakeClientError(502), OSError(errno.EIO, "s3fs wraps it")),
])
def test_transient(exc):
    assert is_transient(exc)


@pytest.mark.parametrize("exc", [
    FileNotFoundError(errno.ENOENT, "no such key"),
    PermissionError(errno.EACCES, "denied"),
    FakeClientError(403),
    FakeClientError(404),
    ValueError("bad argument"),
    wrapped(ConnectionResetError(), FileNotFoundError("missing, even if a reset came first")),
    RuntimeError("something else"),
])
def test_not_transient(exc):
    assert not is_transient(exc)


@given(st.integers(min_value=0, max_value=5), st.integers(min_value=1, max_value=6))
def test_retries_transient_failures_until_success_or_attempts_run_out(failures, attempts):
    calls = []
    sleeps = []

    def flaky():
        calls.append(1)
        if len(calls) <= failures:
            raise ConnectionResetError("dropped")
        return "ok"

    if failures < attempts:
        assert with_retries(flaky, attempts, sleep=sleeps.append) == "ok"
        assert len(calls) == failures + 1
    else:
        with pytest.raises(ConnectionResetError):
            with_retries(flaky, attempts, sleep=sleeps.append)
        assert len(calls) == attempts
    assert len(sleeps) == len(calls) - 1
    assert all(a <= b * 2 + 1e-9 for a, b in zip(sleeps, sleeps[1:]))  # no wild jumps


def test_permanent_failure_is_not_retried():
    calls = []

    def denied():
        calls.append(1)
        raise PermissionError("denied")

    with pytest.raises(PermissionError):
        with_retries(denied, 5, sleep=lambda s: None)
    assert calls == [1]
