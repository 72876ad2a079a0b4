#!/usr/bin/env python
import sys

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    from relayweb.env import settings_or_exit

    settings_or_exit()
    execute_from_command_line(sys.argv)
