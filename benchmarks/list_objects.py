"""Listing 10,000 keys: tirui's listing service (what the Buckets screen consumes, to the last row)
against a plain boto3 paginator loop, on the same moto S3 server, alternating over several rounds.

Prints ``ratio=<tirui/boto3>`` (median times) last. Target: <= 1.15.
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from tests.support.servers import moto_server
from tirui.storage.s3 import S3Store

KEYS = int(os.environ.get("TIRUI_BENCH_KEYS", "10000"))
ROUNDS = int(os.environ.get("TIRUI_BENCH_ROUNDS", "5"))
BUCKET = "bench-listing"


def seed(client: object) -> None:
    client.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]

    def put(i: int) -> None:
        client.put_object(Bucket=BUCKET, Key=f"models/part-{i // 1000:02}/obj-{i:06}.bin", Body=b"x")  # type: ignore[attr-defined]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(KEYS)))


def tirui_listing(store: S3Store) -> int:
    rows = []
    for page in store.iter_pages(BUCKET, "models/", delimiter=""):
        rows.extend(page.objects)
    return len(rows)


def boto3_listing(client: object) -> int:
    rows = []
    paginator = client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    for page in paginator.paginate(Bucket=BUCKET, Prefix="models/"):
        rows.extend(page.get("Contents", []))
    return len(rows)


def main() -> None:
    with moto_server() as url:
        # moto accepts any credentials: throwaway ones, so no secret-looking literal is committed
        key_id, secret = f"bench-{secrets.token_hex(4)}", secrets.token_hex(16)
        creds = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
        client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", **creds)
        t0 = time.perf_counter()
        seed(client)
        print(f"seeded {KEYS} keys in {time.perf_counter() - t0:.1f}s")
        store = S3Store(endpoint_url=url, access_key_id=key_id, secret_access_key=secret)
        assert tirui_listing(store) == boto3_listing(client) == KEYS  # warm-up and check
        times: dict[str, list[float]] = {"tirui": [], "boto3": []}
        for _ in range(ROUNDS):
            runs = (("tirui", lambda: tirui_listing(store)), ("boto3", lambda: boto3_listing(client)))
            for name, fn in runs:
                start = time.perf_counter()
                assert fn() == KEYS
                times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:6} median {med[k]:.3f}s  min {min(v):.3f}s  ({KEYS} keys, {len(v)} rounds)")
    print(f"ratio={med['tirui'] / med['boto3']:.3f}")


if __name__ == "__main__":
    main()
