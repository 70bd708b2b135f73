import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from factory_model import load_catalog, load_factors  # noqa: E402

# The tests' own servers (and a test Prometheus) listen on 127.0.0.1 only: that one address is allow-listed for
# server-side fetches, explicitly, for the whole run (module-scoped fixtures and CLI subprocesses included).
os.environ["AIF_FETCH_ALLOW"] = "127.0.0.1"


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def factors():
    return load_factors()


@pytest.fixture(scope="session")
def priors():
    return load_factors("uncalibrated")


@pytest.fixture(autouse=True)
def allow_local_test_servers(monkeypatch):
    """Server-side fetches are off unless allow-listed (factory_model.safe_fetch); the tests' own servers listen
    on 127.0.0.1 only, so that one address is listed explicitly (also for CLI subprocesses, via the environment)."""
    from factory_model import safe_fetch

    monkeypatch.setenv(safe_fetch.ENV_ALLOW, "127.0.0.1")
    safe_fetch.configure(None)
    yield
    safe_fetch.configure(None)
