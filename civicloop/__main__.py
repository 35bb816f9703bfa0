"""The `civicloop` console command: Django's manage.py under the project's name.

`civicloop demo`, `civicloop ingest`, `civicloop hj212 decode` … are management commands.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["civicloop", *(argv if argv is not None else sys.argv[1:])])
    return 0


if __name__ == "__main__":
    sys.exit(main())
