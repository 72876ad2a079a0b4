"""Fail loudly (never skip) when a service `make test` needs is not reachable.

python scripts/check_services.py postgres://… [redis://…]
"""

import sys

import psycopg
import redis


def check_postgres(url: str) -> None:
    try:
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        sys.exit(f"PostgreSQL is not reachable at {url}: {exc}\nStart it, or set TEST_DATABASE_URL.")
    print(f"PostgreSQL reachable at {url}")


def check_redis(url: str) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        sys.exit(f"Redis is not reachable at {url}: {exc}\nStart it, or set TEST_REDIS_URL.")
    print(f"Redis reachable at {url}")


for url in sys.argv[1:]:
    if url.startswith("redis"):
        check_redis(url)
    else:
        check_postgres(url)
