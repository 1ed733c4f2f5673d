"""Local protocol servers for tests and benchmarks (no Django here): moto's S3 server."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3

from tests.support.waiting import eventually


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited; see {log}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        eventually(listening, timeout=seconds, message=f"The server did not listen on {port}; see {log}")
    except AssertionError:
        process.kill()
        raise


def start_moto(port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - the process owns it until it ends
    # The first three requests (creating the IAM user, its key and its policy) need no signature;
    # every request after them is authenticated and authorised like on AWS.
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, process, log_path)
    return process


def moto_user(endpoint: str) -> tuple[str, str]:
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIASETUPONLY0000000",
        aws_secret_access_key="setup-only",
    )
    iam.create_user(UserName="deeplens")
    key = iam.create_access_key(UserName="deeplens")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="deeplens", PolicyName="all", PolicyDocument=json.dumps(policy))
    return key["AccessKeyId"], key["SecretAccessKey"]
