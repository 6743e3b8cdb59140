"""The benchmarks' directory: every table of SPEC §2 at a scale S, drawn from one seed.

S = 1 is 100 organizations, 10,000 users, 1,000 projects (a fifth of them private), 100,000
dashboards and resources (a fifth of the dashboards restricted), collaborators, insights on
dashboards, explicit members, roles, access-control rows of every kind and 1,000 personal API keys
of every kind: about 190,000 rows. Every count scales with S, and organization 0 is the large
customer, with every feature on: a tenth of the projects (and so of the objects) and a fiftieth of
the users (at least 100) are its own, so at S = 10 it has 100,000 objects and 2,000 members while
the others keep about 1,000 objects and 100 members each, the same as at S = 1.

`build_dataset` returns the rows per table (columns as `COLUMNS` names them) and a `Dataset` index the
workloads draw from; `write_files` writes them in `acl-service import`'s format and `load_dataset`
imports them into a migrated database as an adopter would.
"""

import hashlib
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

ORGANIZATIONS = 100
USERS = 10_000
PROJECTS = 1_000
DASHBOARDS_PER_PROJECT = 50
RESOURCES_PER_PROJECT = {"insight": 20, "notebook": 20, "feature_flag": 10}
KEYS = 1_000
LARGEST_ORGANIZATION_PROJECTS = 0.1  # its share of the projects
LARGEST_ORGANIZATION_USERS = 0.02  # its share of the users
LARGEST_ORGANIZATION_MIN_MEMBERS = 100
FEATURE_SETS = [
    [],
    ["project_based_permissioning", "dashboard_permissioning"],
    ["advanced_permissions"],
    ["advanced_permissions", "role_based_access", "organization_security_settings"],
]
KEY_SCOPES: list[list[str] | None] = [
    None,
    ["*"],
    ["dashboard:read", "notebook:read", "insight:read"],
    ["dashboard:write", "insight:write", "notebook:write", "feature_flag:read", "access_control:write"],
]
KEY_ALPHABET = string.ascii_letters + string.digits

COLUMNS = {
    "organizations": ["id", "name", "available_product_features"],
    "users": ["id", "uuid", "email", "is_active"],
    "organization_memberships": ["id", "organization_id", "user_id", "level"],
    "projects": ["id", "organization_id", "name", "access_control"],
    "explicit_memberships": ["id", "project_id", "parent_membership_id", "level"],
    "resources": ["project_id", "resource", "resource_id", "name", "created_by_id", "restriction_level"],
    "insight_dashboards": ["project_id", "insight_id", "dashboard_id"],
    "dashboard_privileges": ["id", "project_id", "dashboard_id", "user_id", "level"],
    "roles": ["id", "organization_id", "name"],
    "role_memberships": ["id", "role_id", "user_id", "organization_member_id"],
    "access_controls": [
        "id", "project_id", "resource", "resource_id", "organization_member_id", "role_id", "access_level",
    ],
    "personal_api_keys": ["id", "user_id", "label", "secure_value", "mask_value", "scopes", "scoped_teams"],
}  # fmt: skip

Tables = dict[str, list[tuple[Any, ...]]]


@dataclass
class Dataset:
    organizations: list[uuid.UUID] = field(default_factory=list)  # organization 0 is the largest
    members: dict[uuid.UUID, list[int]] = field(default_factory=dict)  # organization -> user ids
    user_uuids: dict[int, uuid.UUID] = field(default_factory=dict)
    projects: dict[uuid.UUID, list[int]] = field(default_factory=dict)  # organization -> project ids
    objects: dict[int, dict[str, list[str]]] = field(default_factory=dict)  # project -> type -> ids
    keys: list[tuple[str, int]] = field(default_factory=list)  # (value, owner user id)
    user_organization: dict[int, uuid.UUID] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def object_count(self, organization: uuid.UUID) -> int:
        return sum(
            len(ids) for project in self.projects[organization] for ids in self.objects[project].values()
        )


def shares(total: int, parts: int) -> list[int]:
    """`total` split into `parts` sizes that differ by at most one."""
    size, remainder = divmod(total, parts)
    return [size + (1 if index < remainder else 0) for index in range(parts)]


def organization_sizes(scale: float) -> list[tuple[int, int]]:
    """(own users, projects) per organization; organization 0 is the large customer."""
    organizations = max(2, round(ORGANIZATIONS * scale))
    users, projects = round(USERS * scale), round(PROJECTS * scale)
    largest_users = max(LARGEST_ORGANIZATION_MIN_MEMBERS, round(users * LARGEST_ORGANIZATION_USERS))
    largest_projects = max(1, round(projects * LARGEST_ORGANIZATION_PROJECTS))
    rest = zip(
        shares(users - largest_users, organizations - 1),
        shares(projects - largest_projects, organizations - 1),
        strict=True,
    )
    return [(largest_users, largest_projects), *rest]


def build_dataset(rng: random.Random, scale: float = 1.0) -> tuple[Dataset, Tables]:
    data = Dataset()
    tables: Tables = {name: [] for name in COLUMNS}
    users = round(USERS * scale)
    membership_ids: dict[tuple[uuid.UUID, int], uuid.UUID] = {}
    for user_id in range(1, users + 1):
        user_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)
        data.user_uuids[user_id] = user_uuid
        tables["users"].append((user_id, user_uuid, f"user{user_id}@example.com", rng.random() > 0.01))
    next_user, next_project = 1, 1
    for index, (own_users, project_count) in enumerate(organization_sizes(scale)):
        organization = uuid.UUID(int=rng.getrandbits(128), version=4)
        data.organizations.append(organization)
        # The large customer has every feature (index 0 takes the last set); the rest cycle through them.
        feature_set = FEATURE_SETS[(index - 1) % len(FEATURE_SETS)]
        features = [{"key": key, "name": key} for key in feature_set]
        tables["organizations"].append((organization, f"org-{index}", json.dumps(features)))
        own = list(range(next_user, next_user + own_users))
        next_user += own_users
        own_set = set(own)
        guests = rng.sample(range(1, users + 1), own_users // 10)
        members = own + [user for user in guests if user not in own_set]
        data.members[organization] = members
        for position, user_id in enumerate(members):
            level = 15 if position == 0 else 8 if position < 5 else 1
            membership = uuid.UUID(int=rng.getrandbits(128), version=4)
            membership_ids[(organization, user_id)] = membership
            tables["organization_memberships"].append((membership, organization, user_id, level))
            data.user_organization.setdefault(user_id, organization)
        ac_on = "advanced_permissions" in feature_set
        roles = []
        if ac_on:
            for number in range(3):
                role = uuid.UUID(int=rng.getrandbits(128), version=4)
                roles.append(role)
                tables["roles"].append((role, organization, f"role-{number}"))
                for user_id in rng.sample(members, 10):
                    tables["role_memberships"].append(
                        (uuid.uuid4(), role, user_id, membership_ids[(organization, user_id)])
                    )
        data.projects[organization] = []
        for project_id in range(next_project, next_project + project_count):
            data.projects[organization].append(project_id)
            add_project(rng, data, tables, project_id, organization, members, membership_ids, roles, ac_on)
        next_project += project_count
    for _ in range(round(KEYS * scale)):
        owner = rng.randint(1, users)
        value = "phx_" + "".join(rng.choice(KEY_ALPHABET) for _ in range(43))
        scopes = rng.choice(KEY_SCOPES)
        home = data.user_organization.get(owner)
        teams = [rng.choice(data.projects[home])] if home and rng.random() < 0.1 else []
        data.keys.append((value, owner))
        tables["personal_api_keys"].append(
            (uuid.uuid4(), owner, "bench", "sha256$" + hashlib.sha256(value.encode()).hexdigest(),
             f"{value[:4]}...{value[-4:]}", scopes, teams)
        )  # fmt: skip
    data.rows = {name: len(rows) for name, rows in tables.items()}
    return data, tables


def add_project(
    rng: random.Random,
    data: Dataset,
    tables: Tables,
    project_id: int,
    organization: uuid.UUID,
    members: list[int],
    membership_ids: dict[tuple[uuid.UUID, int], uuid.UUID],
    roles: list[uuid.UUID],
    ac_on: bool,
) -> None:
    private = project_id % 5 == 0
    tables["projects"].append((project_id, organization, f"project-{project_id}", private))
    if private:
        for user_id in rng.sample(members[5:], 20):
            tables["explicit_memberships"].append(
                (uuid.uuid4(), project_id, membership_ids[(organization, user_id)], rng.choice((1, 8)))
            )
    objects: dict[str, list[str]] = {"dashboard": []}
    data.objects[project_id] = objects
    for number_in_project in range(DASHBOARDS_PER_PROJECT):
        dashboard = str((project_id - 1) * DASHBOARDS_PER_PROJECT + number_in_project + 1)
        objects["dashboard"].append(dashboard)
        creator = rng.choice(members) if rng.random() < 0.8 else None
        restricted = rng.random() < 0.2
        tables["resources"].append(
            (project_id, "dashboard", dashboard, f"d{dashboard}", creator, 37 if restricted else 21)
        )
        if restricted:
            for user_id in rng.sample(members, 2):
                tables["dashboard_privileges"].append((uuid.uuid4(), project_id, dashboard, user_id, 37))
    for resource, count in RESOURCES_PER_PROJECT.items():
        objects[resource] = []
        for number_in_project in range(count):
            resource_id = f"{resource[0]}-{project_id}-{number_in_project}"
            objects[resource].append(resource_id)
            creator = rng.choice(members) if rng.random() < 0.8 else None
            tables["resources"].append((project_id, resource, resource_id, None, creator, None))
            if resource == "insight":
                tables["insight_dashboards"].append(
                    (project_id, resource_id, rng.choice(objects["dashboard"]))
                )
    if ac_on:
        tables["access_controls"] += access_rows(
            rng, project_id, objects, [membership_ids[(organization, u)] for u in members], roles
        )


def access_rows(
    rng: random.Random,
    project_id: int,
    objects: dict[str, list[str]],
    memberships: list[uuid.UUID],
    roles: list[uuid.UUID],
) -> list[tuple[Any, ...]]:
    rows: dict[tuple[Any, ...], str] = {}
    if project_id % 3 == 0:
        rows[("project", str(project_id), None, None)] = "none"
    for membership in rng.sample(memberships, 10):
        rows[("project", str(project_id), membership, None)] = rng.choice(("member", "admin", "none"))
    rows[("dashboard", None, None, None)] = rng.choice(("editor", "viewer"))
    rows[("notebook", None, None, None)] = "none"
    for membership in rng.sample(memberships, 20):
        rows[("notebook", None, membership, None)] = rng.choice(("viewer", "editor"))
    for role in roles:
        rows[("feature_flag", None, None, role)] = "viewer"
    for _ in range(10):
        resource = rng.choice(("dashboard", "notebook", "insight"))
        resource_id = rng.choice(objects[resource])
        if rng.random() < 0.3:
            rows[(resource, resource_id, None, None)] = "none"
        rows[(resource, resource_id, rng.choice(memberships), None)] = rng.choice(
            ("none", "viewer", "editor", "manager")
        )
    return [
        (uuid.uuid4(), project_id, resource, resource_id, member, role, level)
        for (resource, resource_id, member, role), level in rows.items()
    ]


def write_files(tables: Tables, folder: Path) -> int:
    """The dataset as `acl-service import` files, NDJSON, one per table; returns the number of rows."""
    encoder = msgspec.json.Encoder()
    rows = 0
    for table, columns in COLUMNS.items():
        with (folder / f"{table}.ndjson").open("wb") as file:
            for values in tables[table]:
                row = dict(zip(columns, values, strict=True))
                if table == "organizations":
                    row["available_product_features"] = json.loads(row["available_product_features"])
                file.write(encoder.encode(row) + b"\n")
                rows += 1
    return rows


def load_dataset(dsn: str, tables: Tables) -> None:
    """`acl-service import` of the dataset into a migrated database: COPY into staging tables, then
    one transaction, one revision, as an adopter brings a directory in. It runs ANALYZE after."""
    with tempfile.TemporaryDirectory(prefix="acl-bench-dataset-") as folder:
        write_files(tables, Path(folder))
        subprocess.run(
            [str(Path(sys.executable).parent / "acl-service"), "import", folder],
            env={**os.environ, "ACL_DATABASE_URL": dsn},
            check=True,
            stdout=subprocess.DEVNULL,
        )
