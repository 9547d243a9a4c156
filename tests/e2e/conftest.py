"""End-to-end tests run against the `stack` fixture of tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture
def gateway(stack):
    return stack[1]

