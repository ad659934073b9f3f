"""Create or drop a scratch PostgreSQL database for CI: `pgdb.py create|drop NAME`."""

import os
import sys

import psycopg
from psycopg import sql

ADMIN_DSN = os.environ.get("KAIRAN_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def main() -> None:
    action, name = sys.argv[1], sys.argv[2]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        # The test database pytest-django derives from it goes too.
        for db in (name, f"test_{name}"):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        if action == "create":
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
