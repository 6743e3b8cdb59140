"""The facts one decision request reads: the fact index at one applied revision (SPEC §2, §5.4).

`RequestFacts` is what every `/v1` handler asks before deciding: it refuses an unsure instance,
waits for `min_revision`, loads the organizations the request names (all at one applied revision)
and resolves subjects and projects. The HTTP layer only decodes, authenticates, calls and encodes.
The index is typed by the `FactSource` protocol, so authz does not depend on the store.
"""

from collections.abc import Iterable
from typing import Final, Protocol
from uuid import UUID

from acl_service.authz.decisions import (
    ANONYMOUS,
    INVALID_KEY,
    INVALID_USER,
    PROJECT_NOT_FOUND,
    Decider,
    Subject,
)
from acl_service.authz.evaluator import AccessEvaluator
from acl_service.domain import ApiKeyRef, Caller, OrganizationView, Project, UserRef, secure_value
from acl_service.errors import NotFound

USER_NOT_FOUND: Final = "User not found."
# Consistency: organizations are loaded (awaiting) before deciding; if the applied revision moved
# meanwhile, the already-loaded views are fetched again, which no longer awaits.
LOAD_ATTEMPTS: Final = 3


class FactSource(Protocol):
    """What decisions read from the fact index (`acl_service.store.index.FactIndex`)."""

    @property
    def applied_revision(self) -> int: ...

    def ensure_current(self) -> None: ...

    async def wait_for_revision(self, revision: int, timeout_ms: int) -> None: ...

    async def organization(self, organization_id: UUID) -> OrganizationView | None: ...

    def loaded_organization(self, organization_id: UUID) -> OrganizationView | None: ...

    def project(self, project_id: int) -> Project | None: ...

    def user_by_uuid(self, user_uuid: UUID) -> UserRef | None: ...

    def user_by_id(self, user_id: int) -> UserRef | None: ...

    def key_by_secure_value(self, secure_value: str) -> ApiKeyRef | None: ...


class RequestFacts:
    """The fact index as one request sees it: current, past `min_revision`, organizations loaded."""

    def __init__(self, index: FactSource) -> None:
        self.index = index
        self.views: dict[UUID, OrganizationView | None] = {}
        self.revision = index.applied_revision

    @classmethod
    async def ready(cls, index: FactSource, min_revision: int | None, wait_ms: int) -> "RequestFacts":
        """Refuses (503) an unsure index; waits at most `wait_ms` for `min_revision`."""
        index.ensure_current()
        if min_revision is not None:
            await index.wait_for_revision(min_revision, wait_ms)
        return cls(index)

    async def load(self, organization_ids: Iterable[UUID | None]) -> int:
        """Load every organization named, all at one applied revision; returns that revision."""
        wanted = {organization for organization in organization_ids if organization is not None}
        for _ in range(LOAD_ATTEMPTS):
            before = self.index.applied_revision
            for organization in wanted:
                self.views[organization] = await self.index.organization(organization)
            if self.index.applied_revision == before:
                break
        self.index.ensure_current()  # the listener may have dropped while we awaited a load
        self.revision = self.index.applied_revision
        return self.revision

    def load_from_memory(self, organization_ids: Iterable[UUID | None]) -> bool:
        """`load` without awaiting: True when every organization named is in memory already (they
        are then this request's, at the applied revision); False, loading nothing, otherwise."""
        views = {}
        for organization in organization_ids:
            if organization is not None:
                view = self.index.loaded_organization(organization)
                if view is None:
                    return False
                views[organization] = view
        self.views.update(views)
        self.revision = self.index.applied_revision
        return True

    def organization_of(self, project_id: int | None) -> UUID | None:
        project = self.index.project(project_id) if project_id is not None else None
        return project.organization_id if project is not None else None

    def view_of_project(self, project_id: int) -> OrganizationView | None:
        organization = self.organization_of(project_id)
        view = self.views.get(organization) if organization is not None else None
        return view if view is not None and project_id in view.projects else None

    def subject(self, user: UUID | None, api_key: str | None) -> Subject:
        if user is not None:
            found = self.index.user_by_uuid(user)
            return Subject(Caller("user", found)) if found is not None and found.is_active else INVALID_USER
        if api_key is None:
            return ANONYMOUS
        key = self.index.key_by_secure_value(secure_value(api_key))
        owner = self.index.user_by_id(key.user_id) if key is not None else None
        if key is None or owner is None or not owner.is_active:
            return INVALID_KEY
        return Subject(Caller("key", owner, key))

    def evaluator_for_user(
        self, user: UUID, project_id: int, decider: Decider
    ) -> tuple[AccessEvaluator, int]:
        """/v1/levels and /v1/filter: HTTP 404 for an unknown user or project."""
        found = self.index.user_by_uuid(user)
        if found is None or not found.is_active:
            raise NotFound(USER_NOT_FOUND, attr="user")
        view = self.view_of_project(project_id)
        if view is None:
            raise NotFound(PROJECT_NOT_FOUND)
        return AccessEvaluator(decider.engine, view, view.users), found.id
