import io

from mlvc.cli import progress as cli_progress
from mlvc.progress import NULL_PROGRESS


class FakeStderr(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_bars_only_on_a_terminal_and_not_quiet(monkeypatch):
    monkeypatch.setattr(cli_progress.sys, "stderr", FakeStderr(True))
    assert isinstance(cli_progress.progress_for(False), cli_progress.TqdmProgress)
    assert cli_progress.progress_for(True) is NULL_PROGRESS
    monkeypatch.setattr(cli_progress.sys, "stderr", FakeStderr(False))
    assert cli_progress.progress_for(False) is NULL_PROGRESS


def test_tqdm_phase_draws_and_counts(monkeypatch):
    err = FakeStderr(True)
    monkeypatch.setattr(cli_progress.sys, "stderr", err)
    with cli_progress.TqdmProgress().phase("Hashing", total=10) as advance:
        for _ in range(10):
            advance(1)
    drawn = err.getvalue()
    assert "Hashing" in drawn and "/10" in drawn  # drawn with its total…
    assert drawn.rstrip("\r").endswith(" ")  # …and cleared when the phase ends (leave=False)


def test_byte_bars_are_scaled(monkeypatch):
    err = FakeStderr(True)
    monkeypatch.setattr(cli_progress.sys, "stderr", err)
    with cli_progress.TqdmProgress().phase("Uploading bytes", total=5 << 20, unit="B") as adv:
        adv(5 << 20)
    assert "5.00M" in err.getvalue()


def test_a_byte_meter_counts_within_a_file_then_the_rest_of_its_size():
    import threading

    from mlvc.progress import ByteMeter, meter, metering

    seen = []
    m = ByteMeter(seen.append)

    def work(item):
        meter(10)  # a long pass reports as it goes
        meter(15)
        helper = threading.Thread(target=meter, args=(99,))  # a helper thread's pass:
        helper.start()  # not counted (the item's own thread reports)
        helper.join()
        return item * 2

    with metering(m):
        assert m.run(work, 4, 40) == 8
        assert seen == [10, 15, 15]  # the 15 not metered, once the file is done
        seen.clear()
        assert m.run(lambda x: meter(50), None, 40) is None  # a file that grew: its size
        assert seen == [40]
        seen.clear()
        meter(7)  # outside any file's work: nothing
        assert seen == []
    meter(7)  # no meter at all: nothing
    assert seen == []


def test_a_file_that_fails_still_counts_its_size():
    import pytest

    from mlvc.progress import ByteMeter

    seen = []
    with pytest.raises(OSError):
        ByteMeter(seen.append).run(lambda x: (_ for _ in ()).throw(OSError("gone")), 1, 30)
    assert seen == [30]
