"""Reading settings from the environment, with the embedded defaults filled in.

Every variable is documented in `.env.example`. When DATABASE_URL or REDIS_URL is unset, the URL of the
embedded server that `deeplens.runner` started is read from its state file (var/run/services.json).
"""

import contextlib
import json
import os
import secrets
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def data_dir() -> Path:
    return Path(env_str("DEEPLENS_DATA_DIR", str(BASE_DIR / "var"))).resolve()


def state_file() -> Path:
    return data_dir() / "run" / "services.json"


def embedded_state() -> dict:
    """The URLs of the embedded servers started by `deeplens.runner`, or {} when none run."""
    try:
        return json.loads(state_file().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def service_url(name: str) -> str:
    """DATABASE_URL / REDIS_URL from the environment, else from the running embedded server."""
    value = os.environ.get(name)
    if value:
        return value
    return embedded_state().get(name, "")


def local_secret_key(directory: Path | None = None) -> str:
    """The secret key of a local install without DJANGO_SECRET_KEY: random, made on first start and
    kept in the data dir (mode 0600), so tokens survive restarts and nobody else can forge them.

    Processes starting together agree on one key: it is written aside and linked into place, which
    fails for every writer but the first."""
    directory = directory or data_dir()
    path = directory / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(64) + "\n")
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_text().strip()
