import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from factory_model import load_catalog, load_factors  # noqa: E402


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def factors():
    return load_factors()


@pytest.fixture(scope="session")
def priors():
    return load_factors("uncalibrated")
