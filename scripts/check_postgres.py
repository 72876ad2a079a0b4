"""Fail loudly (never skip) when the PostgreSQL that `make test` needs is not reachable."""

import sys

import psycopg

url = sys.argv[1]
try:
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=5) as conn:
        conn.execute("SELECT 1")
except psycopg.Error as exc:
    sys.exit(f"PostgreSQL is not reachable at {url}: {exc}\nStart it, or set TEST_DATABASE_URL.")
print(f"PostgreSQL reachable at {url}")
