"""import-db without SQLAlchemy installed: one clear error naming the extra, nothing written."""

from __future__ import annotations

import sys

import pytest

from mlvc.errors import MlvcError
from mlvc.ops.import_db import check_connection


def test_without_sqlalchemy_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # (import fails)
    with pytest.raises(MlvcError) as info:
        check_connection(None, "x", url="sqlite://")
    assert "SQLAlchemy, which is not installed" in info.value.message
    assert "mlvc[db]" in info.value.hint
