"""A real S3 server (moto in server mode) on 127.0.0.1 for integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from tests.helpers import free_port


@contextmanager
def s3_server() -> Iterator[str]:
    """Start ``moto.server`` over HTTP; yield its endpoint URL; stop it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "footfall-test",
    "AWS_SECRET_ACCESS_KEY": "footfall-test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def set_s3_env(endpoint: str) -> dict[str, str | None]:
    """Point boto3 at ``endpoint``; return the previous values to restore."""
    env = {**S3_ENV, "AWS_ENDPOINT_URL": endpoint}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    return old


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=endpoint,
        **{k.lower(): v for k, v in S3_ENV.items() if k != "AWS_DEFAULT_REGION"},
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
