"""``python -m factory_model``: see factory_model/cli.py."""

from .cli import main

raise SystemExit(main())
