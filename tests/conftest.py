"""Shared fixtures."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A freshly seeded generator per test, so every test is reproducible on its own."""
    return np.random.default_rng(20240607)


def require_system(present: bool, what: str) -> None:
    """Skip when a Debian package that `make test` installs is missing on a developer's machine; under CI
    (CI=true, where `make test` has just installed it) a missing package is a failed install: fail."""
    import os
    if present:
        return
    message = f"{what} is missing (`make test` installs it with apt-get)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)
