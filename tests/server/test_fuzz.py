"""Schemathesis over the app's own OpenAPI schema: generated valid and invalid requests, never a 5xx.

Bounded: a fixed number of examples per operation and mode, derandomized (the same
examples on every run), no per-example deadline (the shared machine is slow), in-process
over ASGI (no network). Schemathesis's pytest plugin is not used: it does not support
pytest 9 (``Function._nodeid``), so each operation's strategy is driven by Hypothesis here.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.xdist_group("server"), pytest.mark.slow]

OPERATIONS = [
    ("GET", "/health"),
    ("GET", "/api/runs"),
    ("GET", "/api/tasks"),
    ("POST", "/api/sentiment"),
    ("POST", "/api/sentiment/batch"),
    ("POST", "/api/suggest"),
    ("POST", "/api/generate"),
    ("POST", "/api/forecast"),
]
EXAMPLES = 25
# Invalid requests need a body or parameters to break: the GET routes take none.
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if m == "POST"
]


@pytest.fixture(scope="session")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_operation_is_fuzzed(api_schema):
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_no_request_makes_a_server_error(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        # Every answer must also be a documented status with the documented body.
        case.call_and_validate(
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
        )

    check()
