"""The REST API against its own OpenAPI schema: schemathesis generates requests for every operation from
/api/schema/ and sends them to a live server, signed in with an API token. No answer may be a server error
or a status the schema does not document, and every operation must be one schemathesis can generate
requests for. Bounded (a few examples per operation) to keep `make test` fast."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

EXAMPLES_PER_OPERATION = 8
JOB_START_EXAMPLES = 25  # every one must pass validation: a few more, so a loose field shows


@pytest.fixture
def api_token(transactional_db, owner):
    from rest_framework.authtoken.models import Token

    return Token.objects.create(user=owner).key


def _check_operation(operation, headers) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(headers=headers, checks=[not_a_server_error, status_code_conformance])

    check()


def test_it_answers_every_operation_as_its_schema_says(live_server, api_token):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    headers = {"Authorization": f"Token {api_token}"}
    failures, checked = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        checked.append(operation.label)
        try:
            _check_operation(operation, headers)
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 (all failures reported together)
            failures.append(f"{operation.label}: {type(error).__name__}: {error}")
    assert len(checked) >= 20, checked
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("path", ["/training/api/training-jobs/", "/training/api/evaluation-jobs/"])
def test_it_generates_valid_requests_for_the_job_creating_endpoints(live_server, api_token, path):
    """The start bodies are documented precisely: every generated body passes validation, and the model id
    (random, so not one of the racer's) is what the server refuses, with 404."""
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/")
    operation = schema[path]["POST"]
    statuses = []

    @given(case=operation.as_strategy())
    @settings(max_examples=JOB_START_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call(headers={"Authorization": f"Token {api_token}"})
        statuses.append(response.status_code)
        if response.status_code != 404:
            refused.append((case.body, response.text))

    refused = []
    check()
    assert statuses and set(statuses) == {404}, refused
