"""The ``sovkg`` command line: :mod:`~sovkg.cli.args` parses, :mod:`~sovkg.cli.commands` runs.

Exit codes: 0 success, 1 validation violations or a failed query, 2 usage or unreadable input.
"""

from sovkg.cli.commands import main

__all__ = ["main"]
