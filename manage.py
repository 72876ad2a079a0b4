#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relayweb.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

    from relayweb.env import ConfigError

    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings, which read the environment)
    except ConfigError as error:
        # A bad environment is the operator's to fix: say what is wrong, without a traceback.
        sys.exit(f"Relay cannot start: {error}")
    execute_from_command_line(sys.argv)
