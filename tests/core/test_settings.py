import json
import os
import stat
import subprocess
import sys

from django.conf import settings

from deeplens.settings.base import database_settings
from deeplens.settings.env import local_secret_key


def test_a_plain_database_url_gets_a_connect_timeout():
    config = database_settings("postgresql://deeplens:secret@db.internal:5432/deeplens")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5432, "deeplens")
    assert config["OPTIONS"] == {"connect_timeout": 5}
    assert config["ENGINE"] == "deeplens.db"


def test_a_socket_given_as_host_parameter_becomes_the_host():
    config = database_settings("postgresql://deeplens@/deeplens?host=/var/run/postgresql&sslmode=disable")
    assert config["HOST"] == "/var/run/postgresql"
    assert config["OPTIONS"] == {"sslmode": "disable", "connect_timeout": 5}


# Issue 17 item 5: `make run` must not sign tokens with a published key.


def test_a_local_secret_key_is_random_per_data_dir_and_kept(tmp_path):
    first = local_secret_key(tmp_path / "one")
    again = local_secret_key(tmp_path / "one")
    other = local_secret_key(tmp_path / "two")

    assert first == again
    assert first != other
    assert len(first) >= 80
    assert stat.S_IMODE((tmp_path / "one" / "secret_key").stat().st_mode) == 0o600
    assert sorted(path.name for path in (tmp_path / "one").iterdir()) == ["secret_key"]


def test_the_local_settings_sign_tokens_with_the_generated_key(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE")
    }
    env.update(DEEPLENS_DATA_DIR=str(tmp_path), DATABASE_URL="postgresql://nobody@127.0.0.1:9/none")
    script = (
        "import django.conf, json; from deeplens.settings import local as s; "
        "print(json.dumps([s.SECRET_KEY, s.SIMPLE_JWT['SIGNING_KEY']]))"
    )

    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", script],
                env=env,
                cwd=settings.BASE_DIR,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for _ in range(2)
    ]

    stored = (tmp_path / "secret_key").read_text().strip()
    assert runs == [[stored, stored], [stored, stored]]
    assert "dev-only" not in stored
