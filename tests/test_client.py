"""acl_client against a real `acl-service serve` (subprocess, real HTTP, the test's database).

Retry counting uses an httpx.MockTransport in place of the sidecar (PostgreSQL is not mocked).
"""

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from acl_client import (
    AsyncClient,
    CheckRequest,
    Client,
    NotFound,
    ServiceUnavailable,
    ValidationError,
)
from acl_client.models import (
    AccessControl,
    Collaborator,
    Decision,
    ExplicitMember,
    Levels,
    Member,
    Resource,
    Role,
    RoleMembership,
)

from tests.fixtures.app import ADMIN_TOKEN, CHECK_TOKEN
from tests.test_cli import START_TIMEOUT_SECONDS, STOP_TIMEOUT_SECONDS, command_env, free_port

REVISION_NOT_REACHED = {
    "type": "server_error",
    "code": "revision_not_reached",
    "detail": "Revision 9 has not been applied by this instance yet.",
    "attr": "min_revision",
}


@contextmanager
def serving(database_url: str, log: Path) -> Iterator[str]:
    """`acl-service serve` on `database_url`, with the test admin and check tokens; yields its URL."""
    port = free_port()
    settings = command_env(
        ACL_DATABASE_URL=database_url,
        ACL_PORT=str(port),
        ACL_DATA_DIR=str(log.parent / "data"),
        ACL_SERVICE_TOKENS=f"admin:{ADMIN_TOKEN},check:{CHECK_TOKEN}",
    )
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "acl_service", "serve"],
            env=settings,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ready(url):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def service_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    with serving(database_url, tmp_path / "serve.log") as url:
        yield url


class World:
    """An organization with Alice (member) and Carol (owner), project 7 and dashboard 70 by Carol."""

    def __init__(self, client: Client) -> None:
        self.alice = client.put_user(uuid.uuid4(), email="alice@example.com", id=101, first_name="Alice")
        self.carol = client.put_user(uuid.uuid4(), email="carol@example.com", id=102)
        features = [
            {"key": key, "name": key} for key in ("dashboard_permissioning", "project_based_permissioning")
        ]
        self.organization = client.create_organization(name="O", available_product_features=features)
        client.add_member(self.organization.id, user_uuid=self.alice.uuid)
        client.add_member(self.organization.id, user_uuid=self.carol.uuid, level=15)
        self.project = client.create_project(id=7, organization=self.organization.id, name="P")
        self.dashboard = client.create_dashboard(
            7, id=70, name="D", created_by=self.carol.uuid, restriction_level=37
        )
        client.upsert_resource(7, resource="notebook", resource_id="n-1", created_by=self.carol.uuid)


@pytest.fixture
def world(service_url: str) -> Iterator[tuple[Client, World]]:
    with Client(service_url, ADMIN_TOKEN) as client:
        yield client, World(client)


def test_admin_writes_return_structs_and_raise_the_revision(world: tuple[Client, World]) -> None:
    client, w = world
    assert (w.alice.id, w.alice.first_name, w.alice.is_active) == (101, "Alice", True)
    assert w.organization.name == "O"
    assert (w.project.id, w.project.organization, w.project.access_control) == (7, w.organization.id, False)
    assert (w.dashboard.id, w.dashboard.restriction_level) == (70, 37)
    assert w.dashboard.created_by is not None
    assert w.dashboard.created_by.uuid == w.carol.uuid
    assert client.revision > 0
    assert client.get_user(w.alice.uuid) == w.alice
    before = client.revision
    client.delete_resource(7, "notebook", "n-1")
    assert client.revision == before + 1
    with pytest.raises(NotFound):
        client.delete_resource(7, "notebook", "n-1")
    assert client.revision == before + 1


def test_admin_representations_are_typed_structs(world: tuple[Client, World]) -> None:
    client, w = world
    dan = client.put_user(uuid.uuid4(), email="dan@example.com", id=103)
    member = client.add_member(w.organization.id, user_uuid=dan.uuid)
    assert isinstance(member, Member)
    assert (member.user.uuid, member.level) == (dan.uuid, 1)
    assert client.update_member(w.organization.id, dan.uuid, level=8).level == 8

    explicit = client.add_explicit_member(7, user_uuid=dan.uuid, level=8)
    assert isinstance(explicit, ExplicitMember)
    assert (explicit.user_uuid, explicit.level, explicit.effective_level) == (dan.uuid, 8, 8)

    collaborator = client.add_collaborator(7, 70, user_uuid=w.alice.uuid)
    assert isinstance(collaborator, Collaborator)
    assert (collaborator.user.uuid, collaborator.level) == (w.alice.uuid, 37)

    resource = client.upsert_resource(7, resource="notebook", resource_id="n-2", name="N")
    assert isinstance(resource, Resource)
    assert (resource.resource, resource.resource_id, resource.name) == ("notebook", "n-2", "N")

    row = client.set_access_control(7, resource="notebook", resource_id="n-2", access_level="none")
    assert isinstance(row, AccessControl)
    assert (row.access_level, row.resource_id, row.organization_member) == ("none", "n-2", None)
    assert client.set_access_control(7, resource="notebook", resource_id="n-2", access_level=None) is None
    wide = client.set_access_control(7, resource="notebook", access_level="viewer")
    assert wide is not None
    assert (wide.resource, wide.resource_id, wide.access_level) == ("notebook", None, "viewer")
    project_row = client.set_access_control(7, organization_member=member.id, access_level="admin")
    assert project_row is not None
    assert (project_row.resource, project_row.organization_member) == ("project", member.id)

    role = client.create_role(w.organization.id, name="Eng")
    assert isinstance(role, Role)
    assert (role.name, role.members) == ("Eng", [])
    membership = client.add_role_member(w.organization.id, role.id, user_uuid=dan.uuid)
    assert isinstance(membership, RoleMembership)
    assert (membership.role_id, membership.user.uuid) == (role.id, dan.uuid)


def test_check_and_batch_decode_the_servers_answer(world: tuple[Client, World]) -> None:
    client, w = world
    denied = client.check(
        user=w.alice.uuid, project_id=7, resource_type="dashboard", resource_id=70, action="write"
    )
    assert (denied.allowed, denied.status) == (False, 403)
    assert denied.detail == "You don't have edit permissions for this dashboard."
    assert denied.levels.restriction_level == 37
    assert denied.levels.can_edit is False
    assert denied.revision >= client.revision
    allowed = client.check(
        user=w.carol.uuid, project_id=7, resource_type="dashboard", resource_id=70, action="write"
    )
    assert (allowed.allowed, allowed.status, allowed.detail) == (True, 200, None)

    batch = client.check_batch(
        [
            CheckRequest(project_id=7, action="read", user=w.alice.uuid),
            CheckRequest(project_id=8, action="read", user=w.alice.uuid),
        ]
    )
    assert [(item.allowed, item.status, item.detail) for item in batch.results] == [
        (True, 200, None),
        (False, 404, "Project not found."),
    ]
    assert isinstance(batch.results[0], Decision)
    assert isinstance(batch.results[0].levels, Levels)


def test_levels_filter_and_subjects_decode_the_servers_answer(world: tuple[Client, World]) -> None:
    client, w = world
    levels = client.levels(
        user=w.alice.uuid,
        project_id=7,
        dashboards=[70, 71],
        resources=[("notebook", "n-1"), ("dashboard", 70)],
        resource_types=["notebook"],
    )
    assert levels.project.org_level == 1
    assert [(d.id, d.exists, d.can_edit) for d in levels.dashboards] == [(70, True, False), (71, False, None)]
    assert [(r.type, r.id, r.exists) for r in levels.resources] == [
        ("notebook", "n-1", True),
        ("dashboard", "70", True),
    ]
    assert levels.resources[1].restriction_level == 37
    assert [t.type for t in levels.resource_types] == ["notebook"]

    listing = client.filter(user=w.alice.uuid, project_id=7, resource="notebook")
    assert (listing.mode, listing.ids, listing.include_created_by) == ("all", [], False)

    found = client.subjects(project_id=7, resource="dashboard", resource_id=70)
    assert found.total_count == len(found.users) == 2
    assert {user.user_id for user in found.users} == {w.alice.uuid, w.carol.uuid}


def test_authorize_answers_posthogs_envelope(world: tuple[Client, World]) -> None:
    client, w = world
    allowed = client.authorize(method="GET", path="/api/environments/7/dashboards/70/", user=w.alice.uuid)
    assert (allowed.allowed, allowed.status, allowed.project_id, allowed.scope_object) == (
        True,
        200,
        7,
        "dashboard",
    )
    assert allowed.user is not None
    assert allowed.user.uuid == w.alice.uuid
    anonymous = client.authorize(method="GET", path="/api/environments/7/dashboards/70/")
    assert (anonymous.allowed, anonymous.status) == (False, 401)
    assert anonymous.body is not None
    assert anonymous.body.code == "not_authenticated"


def test_error_envelopes_become_typed_exceptions(world: tuple[Client, World]) -> None:
    client, w = world
    with pytest.raises(NotFound) as missing:
        client.filter(user=uuid.uuid4(), project_id=7, resource="notebook")
    assert (missing.value.status, missing.value.type, missing.value.code) == (
        404,
        "invalid_request",
        "not_found",
    )
    assert (missing.value.detail, missing.value.attr) == ("User not found.", "user")
    with pytest.raises(ValidationError) as invalid:
        client.check(user=w.alice.uuid, project_id=7, action="restrict")
    assert (invalid.value.status, invalid.value.code, invalid.value.attr) == (400, "invalid", "action")
    assert invalid.value.detail == "This action is not available for this target."


def test_session_consistency_sends_the_writes_revision_as_min_revision(world: tuple[Client, World]) -> None:
    client, w = world
    client.update_project(7, access_control=True)
    seen: list[bytes] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.content)

    client._http.event_hooks["request"] = [record]
    assert client.check(user=w.alice.uuid, project_id=7, action="read").allowed is False
    assert f'"min_revision":{client.revision}'.encode() in seen[0]


async def test_async_client_over_http_matches_the_sync_one(
    world: tuple[Client, World], service_url: str
) -> None:
    client, w = world
    async with AsyncClient(service_url, CHECK_TOKEN) as async_client:
        answer = await async_client.check(user=w.alice.uuid, project_id=7, action="read")
        assert answer.allowed is True
        assert answer.revision >= client.revision
        batch = await async_client.check_batch([CheckRequest(project_id=7, action="read", user=w.carol.uuid)])
        assert batch.results[0].allowed is True


def counting_sidecar(answers: list[httpx.Response]) -> tuple[httpx.MockTransport, list[float]]:
    sent: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        return answers[min(len(sent), len(answers)) - 1]

    return httpx.MockTransport(handle), sent


def test_a_4xx_is_never_retried() -> None:
    envelope = {"type": "validation_error", "code": "invalid_input", "detail": "x", "attr": None}
    transport, sent = counting_sidecar([httpx.Response(400, json=envelope)])
    with Client("http://sidecar", CHECK_TOKEN, transport=transport) as client, pytest.raises(ValidationError):
        client.check(user=uuid.uuid4(), project_id=1, action="read")
    assert len(sent) == 1


def test_revision_not_reached_is_retried_after_retry_after() -> None:
    check: dict[str, object] = {
        "allowed": True,
        "status": 200,
        "detail": None,
        "levels": {},
        "reason": [],
        "revision": 9,
    }
    busy = httpx.Response(503, json=REVISION_NOT_REACHED, headers={"Retry-After": "0.2"})
    transport, sent = counting_sidecar([busy, busy, httpx.Response(200, json=check)])
    with Client("http://sidecar", CHECK_TOKEN, transport=transport) as client:
        assert client.check(user=uuid.uuid4(), project_id=1, action="read", min_revision=9).revision == 9
    assert len(sent) == 3
    assert sent[2] - sent[0] >= 0.4


def test_retries_are_bounded_then_raise_service_unavailable() -> None:
    busy = httpx.Response(503, json=REVISION_NOT_REACHED, headers={"Retry-After": "0"})
    transport, sent = counting_sidecar([busy])
    client = Client("http://sidecar", CHECK_TOKEN, retries=2, transport=transport)
    with client, pytest.raises(ServiceUnavailable) as unavailable:
        client.check(user=uuid.uuid4(), project_id=1, action="read")
    assert len(sent) == 3
    assert (unavailable.value.code, unavailable.value.attr) == ("revision_not_reached", "min_revision")


def test_a_fresh_venv_with_only_the_client_imports_it_without_server_dependencies(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    # A copy: building the package writes build/ and *.egg-info next to its sources.
    client_dir = shutil.copytree(
        Path(__file__).resolve().parent.parent / "clients" / "python", tmp_path / "client"
    )
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(client_dir)],
        check=True,
        timeout=180,
    )
    probe = (
        "import importlib.util, acl_client, acl_client.asgi\n"
        "print([m for m in ('litestar', 'asyncpg', 'pgserver', 'casbin') if importlib.util.find_spec(m)])"
    )
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
