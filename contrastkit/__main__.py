"""``python -m contrastkit``: the same as the ``contrastkit`` command."""

from contrastkit.cli import main

raise SystemExit(main())
