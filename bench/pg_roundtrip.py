"""The client CPU of one PostgreSQL round trip, with and without gevent.

What a statement costs the server process before any of our code runs: psycopg
sending a query and reading its answer, in the gevent worker the production
layout uses (``-k gevent``: the wait goes through gevent's hub) and in a plain
process. Call-next on PostgreSQL makes 6 round trips (BEGIN, counter, finish,
heads, call, COMMIT; a seventh when the ticket finished teaches the learned
duration): this figure times 6 is its floor of client CPU. Baseline: the same
loop without gevent, same run.

    .venv/bin/python bench/pg_roundtrip.py [--dburl postgresql://…] [--num 5000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = """
import sys, time
if sys.argv[1] == "gevent":
    from gevent import monkey
    monkey.patch_all()
import psycopg
connection = psycopg.connect(sys.argv[2], autocommit=True)
cursor = connection.cursor()
count = int(sys.argv[3])
for _ in range(200):
    cursor.execute("SELECT %(n)s::int", {"n": 1})
    cursor.fetchall()
cpu, wall = time.process_time(), time.perf_counter()
for n in range(count):
    cursor.execute("SELECT %(n)s::int", {"n": n})
    cursor.fetchall()
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
print(f"{1e6 * cpu / count:.0f} {1e6 * wall / count:.0f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dburl", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--num", type=int, default=5000, help="round trips per mode")
    args = parser.parse_args()
    print(__doc__.split("\n\n")[0])
    print()
    print(f"{'mode':10} {'round trips':>11} {'CPU µs each':>12} {'wall µs each':>13}")
    figures = {}
    for mode in ("plain", "gevent"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, mode, args.dburl, str(args.num)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        figures[mode] = float(out[0])
        print(f"{mode:10} {args.num:>11} {out[0]:>12} {out[1]:>13}")
    print()
    print(f"gevent / plain CPU: {figures['gevent'] / figures['plain']:.2f}×")


if __name__ == "__main__":
    main()
