"""Run the tests' OpenID provider (tests/oidc/op.mjs, npm `oidc-provider` installed by
`make oidc-provider` into var/oidc-provider) as a separate process on loopback, and sign in at it
the way a person does (its development login and consent forms), without a browser."""

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from deeplens.embedded import free_port
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "var" / "oidc-provider" / "node_modules"
CLIENT_ID = "deeplens"
CLIENT_SECRET = "deeplens-test-secret"


@dataclass
class OpenIdProvider:
    redirect_uris: list[str]
    accounts: dict = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    host: str = "127.0.0.1"  # the issuer's host name; the process listens on 127.0.0.1
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, log_dir: Path) -> "OpenIdProvider":
        node = shutil.which("node")
        if node is None or not (MODULES / "oidc-provider").is_dir():
            pytest.fail(
                "The test OpenID provider is not installed: run `make oidc-provider` (make test does)."
            )
        config = {
            "port": self.port,
            "host": self.host,
            "clients": [
                {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": self.redirect_uris}
            ],
            "accounts": self.accounts,
        }
        self.log_path = log_dir / "oidc-provider.log"
        log = open(self.log_path, "w")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [node, str(ROOT / "tests" / "oidc" / "op.mjs")],
            cwd=ROOT,
            env={**os.environ, "OIDC_MODULES": str(MODULES), "OP_CONFIG": json.dumps(config)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        eventually(self._ready, timeout=60, interval=0.2, message=lambda: f"OP did not start:\n{self.log()}")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the OpenID provider exited:\n{self.log()}")
        try:
            url = f"http://127.0.0.1:{self.port}/.well-known/openid-configuration"
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _form(html: str, base: str) -> tuple[str, dict]:
    action = unescape(re.search(r'<form[^>]*action="([^"]+)"', html).group(1))
    fields = {
        unescape(name): unescape(value)
        for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html)
    }
    return urljoin(base, action), fields


def sign_in_at_provider(authorize_url: str, login: str, *, stop_at: str) -> str:
    """Follow the provider's pages from the authorization URL as a person would (sign in with any
    password, consent) until it redirects to a URL starting with `stop_at`; return that URL."""
    session = requests.Session()
    url, method, data = authorize_url, "GET", None
    for _ in range(12):
        response = session.request(method, url, data=data, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url, method, data = urljoin(url, response.headers["Location"]), "GET", None
            if url.startswith(stop_at):
                return url
            continue
        response.raise_for_status()
        action, fields = _form(response.text, url)
        if 'name="login"' in response.text:
            fields.update(login=login, password="any password")
        url, method, data = action, "POST", fields
    raise AssertionError(f"the provider did not send the browser back to {stop_at}")
