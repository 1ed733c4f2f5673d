from deeplens.settings.base import database_settings


def test_a_plain_database_url_gets_a_connect_timeout():
    config = database_settings("postgresql://deeplens:secret@db.internal:5432/deeplens")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5432, "deeplens")
    assert config["OPTIONS"] == {"connect_timeout": 5}
    assert config["ENGINE"] == "django_tenants.postgresql_backend"


def test_a_socket_given_as_host_parameter_becomes_the_host():
    config = database_settings("postgresql://deeplens@/deeplens?host=/var/run/postgresql&sslmode=disable")
    assert config["HOST"] == "/var/run/postgresql"
    assert config["OPTIONS"] == {"sslmode": "disable", "connect_timeout": 5}
