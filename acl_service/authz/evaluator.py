"""SPEC §3's functions for one organization: gather a fact vector from the view, ask the engine.

An `AccessEvaluator` is made per request (or per batch) over the current `OrganizationView`. The
engine memoizes decisions per fact vector across requests; the evaluator only remembers what it
already gathered for this view, which cannot change under it (views are replaced, never mutated),
so one check that needs a project decision in several steps, or a batch of one user's objects in
one project, gathers the user's project and type facts once.
"""

from collections.abc import Hashable, Mapping

import msgspec

from acl_service.authz.engine import (
    DashboardDecision,
    InsightDecision,
    ObjectDecision,
    PolicyEngine,
    ProjectDecision,
    ResourceTypeDecision,
)
from acl_service.authz.facts import (
    DashboardFacts,
    InsightFacts,
    ListFacts,
    ModifyFacts,
    ObjectFacts,
    ProjectFacts,
    ResourceTypeFacts,
    UserContext,
    alike_in_project,
    dashboard_facts,
    list_object_facts,
    object_facts,
    project_facts,
    resource_type_facts,
    user_context,
)
from acl_service.domain import OrganizationView, UserRef, frozen

PROJECT = "project"
ORGANIZATION = "organization"
DASHBOARD = "dashboard"
INSIGHT = "insight"


class ListFilter(msgspec.Struct, frozen=True):
    """§3.10: which objects of a type a user may list."""

    mode: str
    ids: tuple[str, ...]
    include_created_by: bool


class SubjectAccess(msgspec.Struct, frozen=True):
    """One row of users_with_access (§3.8)."""

    user_id: str
    access_level: str
    access_source: str
    organization_membership_id: str
    organization_membership_level: str


class AccessEvaluator:
    def __init__(self, engine: PolicyEngine, view: OrganizationView, users: Mapping[int, UserRef]) -> None:
        self.engine = engine
        self.view = view
        self.users = users
        self.gates = engine.gates(view.organization.features)
        self._users: dict[int, UserContext] = {}
        # Per (user, project), the user's context and the number of the class of users whose facts
        # of the project and its types are equal (`alike_in_project`): those facts and decisions
        # are kept per class, so users who read alike share them.
        self._alike: dict[tuple[int, int], tuple[UserContext, int]] = {}
        self._classes: dict[Hashable, int] = {}
        self._project_facts: dict[tuple[int, bool], ProjectFacts] = {}
        self._type_facts: dict[tuple[int, str], ResourceTypeFacts] = {}
        self._projects: dict[tuple[int, bool], ProjectDecision] = {}
        self._objects: dict[tuple[int, int, str, str, bool], ObjectDecision] = {}
        self._types: dict[tuple[int, str], ResourceTypeDecision] = {}
        self._dashboards: dict[tuple[int, int, str], DashboardDecision] = {}

    def user(self, user_id: int) -> UserContext:
        found = self._users.get(user_id)
        if found is None:
            found = self._users[user_id] = user_context(self.view, self.gates, user_id)
        return found

    def _in_project(self, user_id: int, project_id: int) -> tuple[UserContext, int]:
        """The user's context and class number in a project (`self._alike`)."""
        key = (user_id, project_id)
        found = self._alike.get(key)
        if found is None:
            user = self.user(user_id)
            alike = (project_id, alike_in_project(self.view, user, project_id))
            found = self._alike[key] = (user, self._classes.setdefault(alike, len(self._classes)))
        return found

    # -- projects and the organization (§3.4, §3.5) ------------------------------------------------

    def project_facts(self, user_id: int, project_id: int, explicit: bool = False) -> ProjectFacts:
        user, alike = self._in_project(user_id, project_id)
        key = (alike, explicit)
        found = self._project_facts.get(key)
        if found is None:
            found = self._project_facts[key] = project_facts(
                self.view, self.gates, user, project_id, explicit=explicit
            )
        return found

    def project(self, user_id: int, project_id: int, explicit: bool = False) -> ProjectDecision:
        key = (self._in_project(user_id, project_id)[1], explicit)
        found = self._projects.get(key)
        if found is None:
            found = self._projects[key] = self.engine.project(
                self.project_facts(user_id, project_id, explicit)
            )
        return found

    def effective_level(self, user_id: int, project_id: int) -> int | None:
        return self.project(user_id, project_id).effective_level

    def project_access_level(self, user_id: int, project_id: int, explicit: bool = False) -> str | None:
        return self.project(user_id, project_id, explicit).access_level

    def org_level(self, user_id: int) -> int:
        membership = self.view.memberships_by_user.get(user_id)
        return membership.level if membership is not None else 0

    def org_access_level(self, user_id: int) -> str | None:
        return self.engine.organization_access_level(self.org_level(user_id))

    # -- resource types (§3.6, §3.9) ---------------------------------------------------------------

    def resource_type_facts(self, user_id: int, project_id: int, resource: str) -> ResourceTypeFacts:
        user, alike = self._in_project(user_id, project_id)
        key = (alike, resource)
        found = self._type_facts.get(key)
        if found is None:
            info = self.engine.resource_info(resource)
            found = self._type_facts[key] = resource_type_facts(self.view, self.gates, user, project_id, info)
        return found

    def resource_type(self, user_id: int, project_id: int, resource: str) -> ResourceTypeDecision:
        key = (self._in_project(user_id, project_id)[1], resource)
        found = self._types.get(key)
        if found is None:
            found = self._types[key] = self.engine.resource_type(
                self.resource_type_facts(user_id, project_id, resource)
            )
        return found

    def resource_access_level(self, user_id: int, project_id: int, resource: str) -> str | None:
        return self.resource_type(user_id, project_id, resource).access_level

    def specific_access_level(self, user_id: int, project_id: int, resource: str) -> str | None:
        return self.resource_type(user_id, project_id, resource).specific_access_level

    def effective_access_level_for_resource(self, user_id: int, project_id: int, resource: str) -> str | None:
        return self.resource_type(user_id, project_id, resource).effective_access_level

    # -- objects (§3.7, §3.8) ----------------------------------------------------------------------

    def object(
        self, user_id: int, project_id: int, resource: str, resource_id: str, explicit: bool = False
    ) -> ObjectDecision:
        key = (user_id, project_id, resource, resource_id, explicit)
        found = self._objects.get(key)
        if found is None:
            facts = self.object_facts(user_id, project_id, resource, resource_id, explicit)
            found = self._objects[key] = self.engine.object(facts)
        return found

    def object_facts(
        self, user_id: int, project_id: int, resource: str, resource_id: str, explicit: bool = False
    ) -> ObjectFacts:
        return object_facts(
            self.view,
            self.gates,
            self.user(user_id),
            self.project_facts(user_id, project_id),
            self.resource_type_facts(user_id, project_id, resource),
            project_id,
            resource_id,
            explicit=explicit,
        )

    def object_access_level(
        self, user_id: int, project_id: int, resource: str, resource_id: str, explicit: bool = False
    ) -> str | None:
        # The project and the organization are objects with their own level functions (§3.7).
        if resource == PROJECT:
            return self.project_access_level(user_id, project_id, explicit)
        if resource == ORGANIZATION:
            return self.org_access_level(user_id)
        return self.object(user_id, project_id, resource, resource_id, explicit).access_level

    def access_source(self, user_id: int, project_id: int, resource: str, resource_id: str) -> str | None:
        if resource == PROJECT:
            return self.project(user_id, project_id).access_source
        return self.object(user_id, project_id, resource, resource_id).access_source

    # -- list filtering (§3.10) --------------------------------------------------------------------

    def visible_project_ids(self, user_id: int) -> tuple[int, ...]:
        # A project is visible when the user has an effective level in it at all (§3.4).
        visible = (pid for pid in self.view.projects if self.effective_level(user_id, pid) is not None)
        return tuple(sorted(visible))

    def list_filter(
        self, user_id: int, project_id: int, resource: str, admin_include_all: bool = False
    ) -> ListFilter:
        if resource == PROJECT:
            ids = sorted(str(project) for project in self.visible_project_ids(user_id))
            return ListFilter("only", tuple(ids), False)
        user = self.user(user_id)
        grouped = list_object_facts(self.view, self.gates, user, project_id, resource)
        classes = {resource_id: self.engine.list_object(facts) for resource_id, facts in grouped.items()}
        blocked = sorted(rid for rid, verdict in classes.items() if verdict == "blocked")
        mode = self.engine.list_mode(
            ListFacts(
                org_level=self.org_level(user_id),
                effective_level=self.effective_level(user_id, project_id),
                admin_include_all=admin_include_all,
                resource_level=self.resource_access_level(user_id, project_id, resource),
                has_blocked=bool(blocked),
            )
        )
        ids = sorted(rid for rid, verdict in classes.items() if verdict == mode.ids_from)
        return ListFilter(mode.mode, tuple(ids), mode.include_created_by)

    # -- dashboards and insights (§3.11) -------------------------------------------------------------

    def dashboard_facts(self, user_id: int, project_id: int, dashboard_id: str) -> DashboardFacts:
        user, alike = self._alike.get((user_id, project_id)) or self._in_project(user_id, project_id)
        decided = self._projects.get((alike, False)) or self.project(user_id, project_id)
        return dashboard_facts(self.view, self.gates, user, project_id, dashboard_id, decided.effective_level)

    def dashboard(self, user_id: int, project_id: int, dashboard_id: str) -> DashboardDecision:
        key = (user_id, project_id, dashboard_id)
        found = self._dashboards.get(key)
        if found is None:
            found = self._dashboards[key] = self.engine.dashboard(
                self.dashboard_facts(user_id, project_id, dashboard_id)
            )
        return found

    def insight_facts(self, user_id: int, project_id: int, insight_id: str) -> InsightFacts:
        dashboards = [
            self.dashboard(user_id, project_id, dashboard_id)
            for dashboard_id in self.view.insight_dashboards.get((project_id, insight_id), ())
            if (project_id, "dashboard", dashboard_id) in self.view.objects
        ]
        return InsightFacts(
            restriction_levels=frozen(d.effective_restriction_level for d in dashboards),
            dashboards_editable=frozen(d.can_edit for d in dashboards),
        )

    def insight(self, user_id: int, project_id: int, insight_id: str) -> InsightDecision:
        return self.engine.insight(self.insight_facts(user_id, project_id, insight_id))

    def decision_signature(
        self, user_id: int, project_id: int, resource: str | None, resource_id: str | None
    ) -> Hashable:
        """Everything a decision about a target reads of the user, the project and the target, as
        fact vectors: the user's project facts, those of the target's type, the object's own and,
        for dashboards and insights, their legacy-layer facts. Two users with equal signatures for
        a target get equal answers; None for an object that does not exist.

        The first-seen path of every check: the cached facts are read straight from their maps."""
        user, alike = self._alike.get((user_id, project_id)) or self._in_project(user_id, project_id)
        project = self._project_facts.get((alike, False)) or self.project_facts(user_id, project_id)
        if resource is None:
            return project
        of_type = self._type_facts.get((alike, resource)) or self.resource_type_facts(
            user_id, project_id, resource
        )
        if resource_id is None:
            return project, of_type
        if (project_id, resource, resource_id) not in self.view.objects:
            return None
        own = object_facts(self.view, self.gates, user, project, of_type, project_id, resource_id)
        if resource == DASHBOARD:
            return project, of_type, (own, self.dashboard_facts(user_id, project_id, resource_id))
        if resource == INSIGHT:
            return project, of_type, (own, self.insight_facts(user_id, project_id, resource_id))
        return project, of_type, own

    # -- who may change access controls (§3.12) ----------------------------------------------------

    def can_modify(self, user_id: int, project_id: int, resource: str, resource_id: str) -> bool:
        is_project = resource == PROJECT
        stored = None if is_project else self.view.objects.get((project_id, resource, resource_id))
        return self.engine.can_modify(
            ModifyFacts(
                creator=stored is not None
                and stored.created_by_id is not None
                and stored.created_by_id == user_id,
                is_project=is_project,
                project_level=self.project_access_level(user_id, project_id, explicit=True),
                object_level=None
                if is_project
                else self.object_access_level(user_id, project_id, resource, resource_id, explicit=True),
            )
        )

    def can_modify_project_wide(self, user_id: int, project_id: int) -> bool:
        return self.can_modify(user_id, project_id, PROJECT, str(project_id))

    # -- users with access (§3.8) ------------------------------------------------------------------

    def users_with_access(self, project_id: int, resource: str, resource_id: str) -> list[SubjectAccess]:
        levels = self.engine.resource_info(self.engine.resource_info(resource).parent).levels
        found: list[tuple[int, str, SubjectAccess]] = []
        for membership in self.view.memberships_by_user.values():
            user = self.users.get(membership.user_id)
            if user is None or not user.is_active:
                continue
            if self.effective_level(user.id, project_id) is None:
                continue
            level = self.object_access_level(user.id, project_id, resource, resource_id)
            if not self.engine.grants_access(level):
                continue
            assert level is not None
            source = self.access_source(user.id, project_id, resource, resource_id) or "default"
            level_name = self.engine.organization_level_name(membership.level)
            assert level_name is not None
            entry = SubjectAccess(str(user.uuid), level, source, str(membership.id), level_name)
            # The policy's ascending level list gives the rank used for ordering.
            found.append((levels.index(level), entry.user_id, entry))
        found.sort(key=lambda item: (item[0], item[1]), reverse=True)
        return [entry for _, _, entry in found]
