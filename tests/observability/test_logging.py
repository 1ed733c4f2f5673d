"""Structured logs: request id in and out, the context fields, JSON and console formats."""

import io
import json
import logging
import logging.config

import pytest
from django.test import RequestFactory

from apps.accounts.models import Role
from apps.core.structured_logging import (
    ConsoleFormatter,
    ContextFilter,
    JsonFormatter,
    RequestIdMiddleware,
    logging_config,
    request_context_clear,
    task_context_reset,
    task_context_set,
)
from tests.api import Api, bearer_for, host


@pytest.fixture
def captured():
    """Records of the `deeplens.test` logger through the real filter, formatted both ways."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("deeplens.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    request_context_clear()
    yield logger, handler, stream
    request_context_clear()
    logger.removeHandler(handler)


def lines(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_valid_request_id_is_echoed_and_a_missing_or_bad_one_replaced(users):
    api = Api(host(None))

    given = api.get("/healthz", HTTP_X_REQUEST_ID="abc-123.x_y")
    missing = api.get("/healthz")
    bad = api.get("/healthz", HTTP_X_REQUEST_ID="bad id; <script>")

    assert given["X-Request-ID"] == "abc-123.x_y"
    assert len(missing["X-Request-ID"]) == 32
    assert bad["X-Request-ID"] != "bad id; <script>"
    assert len(bad["X-Request-ID"]) == 32


def test_api_responses_carry_the_request_id_on_tenant_hosts(users, alpha):
    response = Api(host(alpha), bearer_for(users[Role.MEMBER])).get("images", HTTP_X_REQUEST_ID="req-42")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-42"


def test_a_log_line_inside_a_request_names_request_tenant_user_and_impersonator(captured, users, alpha):
    logger, _handler, stream = captured
    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="rid-1")
    request.tenant = alpha
    request.user = users[Role.MEMBER]
    request.impersonator = users["global"]

    def view(req):
        logger.info("inside %s", "view")
        from django.http import HttpResponse

        return HttpResponse("ok")

    response = RequestIdMiddleware(view)(request)
    request_context_clear()  # what request_finished does when the server closes the response
    logger.info("after the request")

    assert response["X-Request-ID"] == "rid-1"
    inside, after = lines(stream)
    assert inside["message"] == "inside view"
    assert inside["level"] == "INFO"
    assert inside["logger"] == "deeplens.test"
    assert inside["request_id"] == "rid-1"
    assert inside["tenant"] == "alpha"
    assert inside["user"] == str(users[Role.MEMBER].pk)
    assert inside["impersonator"] == str(users["global"].pk)
    assert "request_id" not in after and "tenant" not in after


def test_an_unevaluated_user_is_not_looked_up_for_a_log_line(captured, alpha, django_assert_num_queries):
    from django.utils.functional import SimpleLazyObject

    logger, _handler, stream = captured
    request = RequestFactory().get("/")
    request.tenant = alpha
    request.user = SimpleLazyObject(lambda: pytest.fail("the user was loaded for a log line"))

    def view(req):
        with django_assert_num_queries(0):
            logger.info("no lookup")
        from django.http import HttpResponse

        return HttpResponse("ok")

    RequestIdMiddleware(view)(request)

    assert "user" not in lines(stream)[0]


def test_task_lines_carry_the_task_id_and_name(captured):
    logger, _handler, stream = captured
    token = task_context_set(task_id="t-1", task_name="ingest.process_image")
    try:
        logger.warning("in a task")
    finally:
        task_context_reset(token)

    line = lines(stream)[0]
    assert (line["task_id"], line["task"], line["level"]) == ("t-1", "ingest.process_image", "WARNING")


def test_the_console_format_is_one_readable_line_with_the_context(captured):
    logger, handler, stream = captured
    handler.setFormatter(ConsoleFormatter())
    token = task_context_set(task_id="t-2", task_name="thumbnails.run_job")
    try:
        logger.info("hello")
    finally:
        task_context_reset(token)

    text = stream.getvalue()
    assert text.count("\n") == 1
    assert "INFO    deeplens.test [task_id=t-2 task=thumbnails.run_job]: hello" in text


def test_exceptions_are_one_json_field(captured):
    logger, _handler, stream = captured
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")

    line = lines(stream)[0]
    assert line["message"] == "failed"
    assert "ValueError: boom" in line["exception"]


def test_the_logging_setting_takes_json_or_console_and_refuses_anything_else():
    for fmt in ("json", "console"):
        logging.config.dictConfig(logging_config(log_format=fmt, level="WARNING"))
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    with pytest.raises(ValueError, match="expected json or console"):
        logging_config(log_format="xml", level="INFO")
