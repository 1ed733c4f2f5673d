"""Start the whole product as `make run` does, in a subprocess with its own data directory."""

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deeplens.embedded import free_port
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Product:
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    extra_env: dict = field(default_factory=dict)

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env.update(
            DEEPLENS_DATA_DIR=str(self.data_dir),
            DEEPLENS_PORT=str(self.port),
            DJANGO_SETTINGS_MODULE="deeplens.settings.local",
            DEEPLENS_WEB_WORKERS="1",
            DEEPLENS_WORKER_CONCURRENCY="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 180) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "runner.log"
        log = open(self.log_path, "w")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "deeplens.runner"],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def banner() -> str | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"runner exited with {self.process.returncode}:\n{self.log()}")
            log = self.log()
            return log if "DeepLens is running." in log else None

        return eventually(
            banner,
            timeout=timeout,
            interval=0.5,
            message=lambda: f"runner did not print its banner:\n{self.log()}",
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def url(self, path: str, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}{path}"

    def get_json(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self, timeout: float = 90) -> int:
        """Ctrl-C, as a person would press it."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout)
