"""Schemathesis over the served OpenAPI document, against a real server on a real PostgreSQL.

Every documented operation gets `EXAMPLES_PER_OPERATION` generated requests (bodies, path, query
and header values from the document's schemas; valid ones and, as often, ones that break them),
authenticated mostly with the admin token and otherwise with a seeded personal API key. Generated
path parameters, acting users and body references are mostly replaced by SPEC §8's seeded objects
so that requests get past the 404s into the handlers. Each answer must not be a 5xx
(`not_a_server_error`) and must match the status, headers and body the document gives for it
(`response_schema_conformance`). Failures are collected over all operations and reported together.
"""

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance

from acl_service.app import create_app
from acl_service.settings import Settings
from tests.fixtures.app import ADMIN_TOKEN
from tests.fixtures.seed import Seed, World

# ~120 operations: bounded so that the whole run stays well within a CI minute on 2 cores.
EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, response_schema_conformance]
SERVER_START_SECONDS = 10.0
ACTING_USER = "X-Acting-User"
MIN_REVISION = "min_revision"
EVENT_STREAM = "text/event-stream"
# Body fields that name seeded objects.
BODY_FIELDS = frozenset({"user_uuid", "user", "organization", "organization_member", "role", "project_id"})


@schemathesis.serializer("application/x-ndjson")
def one_ndjson_line(_: object, value: Any) -> bytes:
    """POST /api/sync documents one line of its NDJSON body: each example is sent as a one-line body."""
    return json.dumps(value).encode() + b"\n"


@dataclass
class Seeded:
    """Values of SPEC §8's world, by the path parameter or header they can stand in for."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    # Authorization values drawn from: the admin token (system calls, acting users) as often as the keys.
    authorizations: list[str] = field(default_factory=list)


@pytest.fixture
async def seeded(seed: Seed) -> Seeded:
    world: World = await seed.spec_world(["advanced_permissions", "role_based_access"])
    alice, bob = world.users["alice"], world.users["bob"]
    await seed.dashboard(1, 7, created_by=alice, restriction_level=37)
    await seed.dashboard(1, 8)
    await seed.resource(1, "notebook", "n-17", created_by=world.users["dan"])
    await seed.resource(1, "insight", "42")
    await seed.insight_on(1, "42", [7])
    await seed.collaborator(1, 7, bob, 37)
    role = await seed.role(world.organization, "Eng", [(bob, world.memberships["bob"])])
    users = [str(user.uuid) for user in world.users.values()]
    keys = [
        await seed.personal_api_key(alice, ["*"]),
        await seed.personal_api_key(world.users["dan"], ["dashboard:read"], scoped_teams=[1]),
        await seed.personal_api_key(bob, None),
    ]
    return Seeded(
        {
            "project_id": [1, 2],
            "id": [7, 8],
            "org": [str(world.organization)],
            "user_uuid": users,
            "role_id": [str(role)],
            "resource": ["notebook", "insight", "dashboard"],
            "rid": ["n-17", "42", "7"],
            ACTING_USER: users,
            "user": users,
            "organization": [str(world.organization)],
            "organization_member": [str(m) for m in world.memberships.values()],
            "role": [str(role)],
            "key": ["@current"],
        },
        authorizations=[f"Bearer {token}" for token in (ADMIN_TOKEN, ADMIN_TOKEN, ADMIN_TOKEN, *keys)],
    )


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def base_url(settings: Settings, seeded: Seeded) -> Iterator[str]:
    """The app served by uvicorn in a thread: its own event loop, as in production."""
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), lifespan="on", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def steered(case: Case[Any], seeded: Seeded, choice: st.DataObject) -> Case[Any]:
    """Mostly a seeded value instead of the generated one, in path, acting-user header and body."""
    case.headers["Authorization"] = choice.draw(st.sampled_from(seeded.authorizations))

    def steer(container: Any, names: list[str]) -> None:
        for name in names:
            if name in seeded.values:
                container[name] = choice.draw(st.sampled_from([*seeded.values[name], container[name]]))

    steer(case.path_parameters, list(case.path_parameters or {}))
    if ACTING_USER in case.headers:
        # System calls (no acting user) reach every handler: as likely as each seeded user.
        steer(case.headers, [ACTING_USER])
        if choice.draw(st.integers(0, len(seeded.values[ACTING_USER]))) == 0:
            del case.headers[ACTING_USER]
    if isinstance(case.body, dict):
        steer(case.body, [name for name in case.body if name in BODY_FIELDS])
    for container in (case.body, case.query):
        # A revision this instance has not reached is answered, as documented, with a 503 after
        # the wait; generated revisions would all be such, so the fuzz asks for reached ones.
        if isinstance(container, dict) and MIN_REVISION in container:
            container[MIN_REVISION] = choice.draw(st.sampled_from([0, 1]))
    return case


def cases(operation: APIOperation[Any, Any, Any, Any]) -> st.SearchStrategy[Case[Any]]:
    """Valid requests and, as often, requests that break the document's schemas (400s expected)."""
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )


def test_every_operation_answers_as_documented_without_server_errors(base_url: str, seeded: Seeded) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/schema/openapi.json")
    session = requests.Session()
    failures: list[str] = []
    requests_sent = 0

    operations: list[APIOperation[Any, Any, Any, Any]] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        # A change feed never ends: no response to validate. tests/test_change_feed.py covers it.
        answers = operation.definition.raw["responses"].values()
        if not any(EVENT_STREAM in answer.get("content", {}) for answer in answers):
            operations.append(operation)
    # Deletes last: deleting the seeded organization first would leave every later request a 404.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    for operation in operations:

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @given(case=cases(operation), choice=st.data())
        def exercise(case: Case[Any], choice: st.DataObject) -> None:
            nonlocal requests_sent
            requests_sent += 1
            steered(case, seeded, choice).call_and_validate(base_url=base_url, session=session, checks=CHECKS)

        try:
            exercise()
        except (
            Exception,
            BaseExceptionGroup,
        ) as error:  # every operation is fuzzed; all failures are reported
            failures.append(f"{operation.label}: {error}")

    print(f"schemathesis: {requests_sent} requests")  # the request count, with -s
    assert not failures, "\n\n".join(failures)
    assert requests_sent > 0
