"""The precomputed summaries decisions read: equal to the rows they summarize, and never stale.

A view's summaries (rows grouped by whom they name, per object and per type, role sets, object
and privilege maps) are built when the view loads. After any sequence of writes, the view the
fact index serves must be the one a load from scratch builds now: a summary left over from before
a change would answer from facts that no longer hold.
"""

import random
import uuid
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings

from acl_service.domain import OrganizationView, RowSummary
from acl_service.store.facts import Connection, load_organization_view
from acl_service.store.index import FactIndex
from acl_service.store.writes import write_transaction
from tests.fixtures.seed import Seed, SeedUser
from tests.strategies import GeneratedOrganization, organizations

WAIT_MS = 5000
ROUNDS = 10
WRITES_PER_ROUND = 8
LEVELS = {"project": ("member", "admin", "none"), "dashboard": ("viewer", "editor", "none")}


def brute_force_summary(view: OrganizationView, key: tuple[int, str, str | None]) -> RowSummary:
    """The summary of one key, straight from the definition (§3.3), row by row."""
    rows = view.access_rows.get(key, ())
    by_member: dict[uuid.UUID, frozenset[str]] = {}
    by_role: dict[uuid.UUID, frozenset[str]] = {}
    for row in rows:
        if row.member_id is not None:
            by_member[row.member_id] = by_member.get(row.member_id, frozenset()) | {row.access_level}
        elif row.role_id is not None:
            by_role[row.role_id] = by_role.get(row.role_id, frozenset()) | {row.access_level}
    defaults = frozenset(row.access_level for row in rows if row.member_id is None and row.role_id is None)
    return RowSummary(defaults, by_member, by_role)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=organizations())
def test_summaries_equal_the_rows_they_summarize(generated: GeneratedOrganization) -> None:
    view = generated.view
    assert set(view.row_summaries) == set(view.access_rows)
    for key in view.access_rows:
        assert view.row_summaries[key] == brute_force_summary(view, key), key
    by_type: dict[tuple[int, str], list[str]] = {}
    for project_id, resource, resource_id in view.access_rows:
        if resource_id is not None:
            by_type.setdefault((project_id, resource), []).append(resource_id)
    assert {k: set(v) for k, v in view.object_ids_with_rows.items()} == {
        k: set(v) for k, v in by_type.items()
    }
    for (project_id, resource), ids in by_type.items():
        summary = view.type_object_summaries[(project_id, resource)]
        members: dict[uuid.UUID, frozenset[str]] = {}
        roles: dict[uuid.UUID, frozenset[str]] = {}
        for resource_id in ids:
            one = view.row_summaries[(project_id, resource, resource_id)]
            for member, levels in one.by_member.items():
                members[member] = members.get(member, frozenset()) | levels
            for role, levels in one.by_role.items():
                roles[role] = roles.get(role, frozenset()) | levels
        assert summary.by_member == members
        assert summary.by_role == roles
    # Who is named in each project: what lets users named nowhere in a project share its facts.
    named_members: dict[int, set[uuid.UUID]] = {}
    named_roles: dict[int, set[uuid.UUID]] = {}
    for (project_id, _, _), rows in view.access_rows.items():
        for row in rows:
            if row.member_id is not None:
                named_members.setdefault(project_id, set()).add(row.member_id)
            if row.role_id is not None:
                named_roles.setdefault(project_id, set()).add(row.role_id)
    for project_id, membership_id in view.explicit_levels:
        named_members.setdefault(project_id, set()).add(membership_id)
    assert view.named_memberships == named_members
    assert view.named_roles == named_roles


def comparable(view: OrganizationView) -> dict[str, Any]:
    """Everything a view precomputes, in a form where the load order of rows does not matter."""
    return {
        "organization": view.organization,
        "users": view.users,
        "memberships": view.memberships_by_user,
        "projects": view.projects,
        "explicit": view.explicit_levels,
        "objects": view.objects,
        "rows": {key: set(rows) for key, rows in view.access_rows.items()},
        "row_summaries": view.row_summaries,
        "type_summaries": view.type_object_summaries,
        "objects_with_rows": {key: set(ids) for key, ids in view.object_ids_with_rows.items()},
        "roles": view.role_ids_by_user,
        "named_memberships": view.named_memberships,
        "named_roles": view.named_roles,
        "privileges": view.privileges,
        "placements": {key: set(ids) for key, ids in view.insight_dashboards.items()},
        "row_count": view.row_count,
    }


class Directory:
    """Two organizations with members, roles, projects, objects and rows, and random writes to them."""

    def __init__(self, seed: Seed, rng: random.Random) -> None:
        self.seed = seed
        self.rng = rng
        self.organizations: list[uuid.UUID] = []
        self.users: list[SeedUser] = []
        self.memberships: dict[uuid.UUID, list[tuple[SeedUser, uuid.UUID]]] = {}
        self.roles: dict[uuid.UUID, list[uuid.UUID]] = {}
        self.projects: dict[uuid.UUID, list[int]] = {}
        self.dashboards: dict[int, list[str]] = {}

    async def build(self) -> None:
        features = ["advanced_permissions", "role_based_access", "dashboard_permissioning"]
        for number in range(2):
            organization = await self.seed.organization(features, name=f"O{number}")
            self.organizations.append(organization)
            self.memberships[organization] = []
            for position in range(4):
                user = await self.seed.user(f"u{number}-{position}")
                self.users.append(user)
                membership = await self.seed.member(organization, user, 15 if position == 0 else 1)
                self.memberships[organization].append((user, membership))
            members = self.memberships[organization]
            self.roles[organization] = [
                await self.seed.role(organization, f"r{number}-{n}", members[n : n + 2]) for n in range(2)
            ]
            self.projects[organization] = []
            for project_id in (number * 10 + 1, number * 10 + 2):
                await self.seed.project(organization, project_id, access_control=project_id % 2 == 0)
                self.projects[organization].append(project_id)
                self.dashboards[project_id] = [
                    await self.seed.dashboard(project_id, project_id * 100 + n) for n in range(3)
                ]

    async def random_write(self, conn: Connection) -> None:
        rng = self.rng
        organization = rng.choice(self.organizations)
        project_id = rng.choice(self.projects[organization])
        user, membership = rng.choice(self.memberships[organization])
        dashboard = rng.choice(self.dashboards[project_id])
        role = rng.choice(self.roles[organization])
        kind = rng.randrange(9)
        if kind == 0:  # a row on an object, for a member, a role or everyone
            member, role_id = rng.choice(((membership, None), (None, role), (None, None)))
            await conn.execute(
                """INSERT INTO access_controls
                       (project_id, resource, resource_id, organization_member_id, role_id, access_level)
                   VALUES ($1, 'dashboard', $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                project_id, dashboard, member, role_id, rng.choice(LEVELS["dashboard"]),
            )  # fmt: skip
        elif kind == 1:  # a project row or a resource-wide row
            resource, resource_id = rng.choice((("project", str(project_id)), ("dashboard", None)))
            await conn.execute(
                """INSERT INTO access_controls
                       (project_id, resource, resource_id, organization_member_id, access_level)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                project_id, resource, resource_id, rng.choice((membership, None)),
                rng.choice(LEVELS[resource]),
            )  # fmt: skip
        elif kind == 2:  # a row changes level or goes
            row = await conn.fetchval(
                "SELECT id FROM access_controls WHERE project_id = $1 ORDER BY random() LIMIT 1", project_id
            )
            if row is not None and rng.random() < 0.5:
                await conn.execute("DELETE FROM access_controls WHERE id = $1", row)
            elif row is not None:
                await conn.execute("UPDATE access_controls SET access_level = 'none' WHERE id = $1", row)
        elif kind == 3:  # role membership toggles
            deleted = await conn.execute(
                "DELETE FROM role_memberships WHERE role_id = $1 AND user_id = $2", role, user.id
            )
            if deleted == "DELETE 0":
                await conn.execute(
                    """INSERT INTO role_memberships (role_id, user_id, organization_member_id)
                       VALUES ($1, $2, $3)""",
                    role, user.id, membership,
                )  # fmt: skip
        elif kind == 4:  # organization level
            await conn.execute(
                "UPDATE organization_memberships SET level = $2 WHERE id = $1",
                membership,
                rng.choice((1, 8, 15)),
            )
        elif kind == 5:  # explicit membership of a private project
            await conn.execute(
                """INSERT INTO explicit_memberships (project_id, parent_membership_id, level)
                   VALUES ($1, $2, $3)
                   ON CONFLICT (project_id, parent_membership_id) DO UPDATE SET level = excluded.level""",
                project_id, membership, rng.choice((1, 8)),
            )  # fmt: skip
        elif kind == 6:  # a dashboard's restriction, creator and collaborators
            await conn.execute(
                """UPDATE resources SET restriction_level = $3, created_by_id = $4
                   WHERE project_id = $1 AND resource = 'dashboard' AND resource_id = $2""",
                project_id, dashboard, rng.choice((21, 37)), rng.choice((user.id, None)),
            )  # fmt: skip
            await conn.execute(
                """INSERT INTO dashboard_privileges (project_id, dashboard_id, user_id, level)
                   VALUES ($1, $2, $3, 37) ON CONFLICT DO NOTHING""",
                project_id, dashboard, user.id,
            )  # fmt: skip
        elif kind == 7:  # a new object, and an object that goes (its rows go with it)
            new_id = str(rng.randrange(10_000, 20_000))
            await conn.execute(
                """INSERT INTO resources (project_id, resource, resource_id, restriction_level)
                   VALUES ($1, 'dashboard', $2, 21) ON CONFLICT DO NOTHING""",
                project_id, new_id,
            )  # fmt: skip
            if len(self.dashboards[project_id]) > 1 and rng.random() < 0.3:
                gone = self.dashboards[project_id].pop()
                await conn.execute(
                    """DELETE FROM resources
                       WHERE project_id = $1 AND resource = 'dashboard' AND resource_id = $2""",
                    project_id, gone,
                )  # fmt: skip
            self.dashboards[project_id].append(new_id)
        else:  # a user is deactivated or back, a project turns private or public
            await conn.execute("UPDATE users SET is_active = NOT is_active WHERE id = $1", user.id)
            await conn.execute(
                "UPDATE projects SET access_control = NOT access_control WHERE id = $1", project_id
            )


@pytest.mark.parametrize("seed_number", [1, 2, 3])
async def test_served_views_equal_a_rebuild_from_scratch_after_random_writes(
    seed: Seed, db_pool: asyncpg.Pool, database_url: str, seed_number: int
) -> None:
    directory = Directory(seed, random.Random(seed_number))
    await directory.build()
    index = FactIndex(db_pool, database_url)
    await index.start()
    try:
        for organization in directory.organizations:
            assert await index.organization(organization) is not None  # loaded before the writes
        for _ in range(ROUNDS):
            # Several writes per revision sometimes, as one admin request may make.
            async with write_transaction(db_pool) as tx:
                for _ in range(directory.rng.randint(1, WRITES_PER_ROUND)):
                    await directory.random_write(tx.conn)
                revision = tx.revision
            await index.wait_for_revision(revision, WAIT_MS)
            async with db_pool.acquire() as conn:
                for organization in directory.organizations:
                    served = await index.organization(organization)
                    rebuilt = await load_organization_view(conn, organization)
                    assert served is not None
                    assert rebuilt is not None
                    assert comparable(served) == comparable(rebuilt), f"stale view after revision {revision}"
    finally:
        await index.stop()
