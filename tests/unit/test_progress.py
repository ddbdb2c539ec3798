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
