"""Repository-wide pytest hooks (the unit tests' own fixtures live in tests/conftest.py)."""

from __future__ import annotations

#: Seconds nbval waits for each output message of a cell after the cell has finished. Its
#: default (5 s, not configurable from the command line) fails cells on a busy 2-core machine,
#: where the kernel's output thread can lag behind the cell's reply.
NBVAL_OUTPUT_TIMEOUT = 120


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "output_timeout"):  # nbval's notebook cells
            item.output_timeout = NBVAL_OUTPUT_TIMEOUT
