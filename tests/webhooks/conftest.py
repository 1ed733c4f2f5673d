"""The receiver fixture: a real HTTP server on loopback, allowed by the operator's allow-list as a
receiver inside the installation's network would be."""

import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver(settings):
    settings.DEEPLENS_URL_FETCH_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    running = Receiver()
    yield running
    running.stop()
