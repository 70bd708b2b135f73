#!/usr/bin/env python3
"""Set up and run the project with nothing but Python: ``python3 dev.py run`` or ``python3 dev.py test``.

Creates a virtual environment in .venv (once), installs the pinned requirements (again only when a
requirements file changed), then starts the dashboard or runs the whole test suite. Extra arguments go to
streamlit / pytest. ``python3 dev.py fuzz [--cases N] [--seed S]`` runs the long fuzz (tests/fuzz_long.py:
10,000 cases by default plus the malformed-file corpus through the CLI). Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
REQUIREMENTS = {"run": "requirements.txt", "test": "requirements-test.txt", "bench": "requirements-test.txt",
                "fuzz": "requirements-test.txt"}


def _digest(path: Path) -> str:
    text = path.read_text()
    for line in text.splitlines():  # follow "-r other.txt" includes
        if line.startswith("-r "):
            text += (path.parent / line[3:].strip()).read_text()
    return hashlib.sha256(text.encode()).hexdigest()


def ensure_environment(kind: str) -> None:
    requirements = ROOT / REQUIREMENTS[kind]
    stamp = VENV / f".installed-{kind}"
    if not PYTHON.exists():
        print(f"creating virtual environment in {VENV} ...", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except Exception as exc:  # e.g. Debian's python without python3-venv
            sys.exit(f"error: could not create a virtual environment ({exc}); "
                     "on Debian/Ubuntu install python3-venv first")
    digest = _digest(requirements)
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing {requirements.name} ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(requirements)], check=True, cwd=ROOT)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in REQUIREMENTS:
        print(__doc__.strip())
        print("\nusage: python3 dev.py run|test|bench|fuzz [extra arguments]")
        return 2
    command, extra = argv[0], argv[1:]
    ensure_environment(command)
    if command == "run":
        args = [str(PYTHON), "-m", "streamlit", "run", "app.py", *extra]
    elif command == "fuzz":
        args = [str(PYTHON), "tests/fuzz_long.py", *extra]
    elif command == "bench":
        code = subprocess.call([str(PYTHON), "-m", "factory_model.bench", *extra], cwd=ROOT)
        if code:
            return code
        code = subprocess.call([str(PYTHON), "tests/bench_dashboard.py"], cwd=ROOT)
        if code:
            return code
        args = [str(PYTHON), "tests/bench_load.py"]  # >= 20 concurrent sessions: p50/p95, memory, lost input
    else:
        args = [str(PYTHON), "-m", "pytest", *extra]
    return subprocess.call(args, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
