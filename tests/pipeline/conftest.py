"""Fixtures of the pipeline tests."""

from __future__ import annotations

import pytest
from _browser import Browser, find_chromium


@pytest.fixture
def browser(tmp_path_factory):
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); the report browser test needs it")
    return Browser(exe, tmp_path_factory.mktemp("browser"))
