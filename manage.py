#!/usr/bin/env python
"""Django's command-line utility. With no DATABASE_URL / REDIS_URL set, it uses the embedded servers
that `make run` started (see deeplens/runner.py)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deeplens.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
