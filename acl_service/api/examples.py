"""Request and response examples of the OpenAPI document, from SPEC §8's worked examples and §5.4.

The people of SPEC §8 (organization O, project 1; Alice, Bob, Dan members, Carol owner) get fixed
illustrative ids. Each constant is a `{name: {"summary", "value"}}` map for `api_doc(...)`.
"""

from typing import Any, Final

from acl_service.api.openapi import example

ORGANIZATION: Final = "5f2e8a4c-3b1d-4c6e-9a7f-0d1e2f3a4b5c"
ALICE: Final = "0b5a3c1e-7d2f-4e8a-9b6c-1a2b3c4d5e6f"
BOB: Final = "9f0c2d4e-6a8b-4c1d-8e3f-5a6b7c8d9e0f"
CAROL: Final = "c4a1e2b3-d5f6-4a7b-8c9d-0e1f2a3b4c5d"
DAN: Final = "d7e8f9a0-b1c2-4d3e-8f4a-5b6c7d8e9f0a"
BOB_MEMBERSHIP: Final = "51d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"

Examples = dict[str, dict[str, Any]]

USER_PUT: Final[Examples] = {
    "sync": example(
        "Sync a user from the main application", {"email": "alice@example.com", "first_name": "Alice"}
    )
}
ORGANIZATION_CREATE: Final[Examples] = {
    "spec_8_3": example(
        "Organization O with advanced permissions (SPEC §8.3)",
        {
            "id": ORGANIZATION,
            "name": "O",
            "available_product_features": [{"key": "advanced_permissions", "name": "Advanced permissions"}],
        },
    )
}
MEMBER_CREATE: Final[Examples] = {
    "owner": example("Carol joins O as owner (SPEC §8)", {"user_uuid": CAROL, "level": 15})
}
PROJECT_CREATE: Final[Examples] = {
    "spec_8_1": example(
        "Flag-private project 1 (SPEC §8.1)",
        {"id": 1, "organization": ORGANIZATION, "name": "Project 1", "access_control": True},
    )
}
EXPLICIT_MEMBER_CREATE: Final[Examples] = {
    "spec_8_1": example("Alice adds Bob to private project 1 (SPEC §8.1)", {"user_uuid": BOB}),
    "spec_8_2": example("Carol adds Bob as admin (SPEC §8.2)", {"user_uuid": BOB, "level": 8}),
}
DASHBOARD_UPDATE: Final[Examples] = {
    "spec_8_6": example("Alice lowers her dashboard's restriction (SPEC §8.6)", {"restriction_level": 21}),
    "spec_8_5": example("Rename (Dan is refused on a 37 dashboard, SPEC §8.5)", {"name": "x"}),
}
MOVE_TILE: Final[Examples] = {
    "move": example("Move a tile to dashboard 10 (SPEC §5.3.6)", {"toDashboard": 10, "tile": {"id": 3}})
}
TEMPLATE: Final[Examples] = {
    "template": example("A dashboard from a template", {"template": {"template_name": "Web analytics"}})
}
COLLABORATOR_CREATE: Final[Examples] = {
    "spec_8_6": example("Alice adds herself: refused, she owns it (SPEC §8.6)", {"user_uuid": ALICE}),
}
RESOURCE_CREATE: Final[Examples] = {
    "spec_8_14": example(
        "Notebook n-17 created by Dan (SPEC §8.14)",
        {"resource": "notebook", "resource_id": "n-17", "created_by": DAN},
    ),
    "spec_8_12": example(
        "Insight 42 on dashboards 7 and 10 (SPEC §8.12)",
        {"resource": "insight", "resource_id": "42", "dashboards": [7, 10]},
    ),
}
ACCESS_CONTROL_PUT: Final[Examples] = {
    "spec_8_15": example("Grant the object's default editor (SPEC §8.15)", {"access_level": "editor"}),
    "spec_8_11": example(
        "Deny Bob (SPEC §8.11)", {"organization_member": BOB_MEMBERSHIP, "access_level": "none"}
    ),
    "delete": example("Remove the default row (204)", {"access_level": None}),
}
RESOURCE_ACCESS_CONTROL_PUT: Final[Examples] = {
    "spec_8_7": example(
        "Everyone edits dashboards by default (SPEC §8.7)",
        {"resource": "dashboard", "access_level": "editor"},
    ),
}
ROLE_CREATE: Final[Examples] = {"spec_8_8": example("Role Eng (SPEC §8.8)", {"name": "Eng"})}
ROLE_MEMBERSHIP_CREATE: Final[Examples] = {
    "spec_8_8": example("Bob joins Eng (SPEC §8.8)", {"user_uuid": BOB})
}
KEY_CREATE: Final[Examples] = {
    "spec_8_9": example(
        "Alice's read-only dashboard key (SPEC §8.9)", {"label": "ci", "scopes": ["dashboard:read"]}
    ),
    "spec_8_10": example(
        "A key for project 1 only (SPEC §8.10)", {"label": "p1", "scopes": ["*"], "scoped_teams": [1]}
    ),
}

CHECK: Final[Examples] = {
    "spec_5_4": example(
        "Can Alice edit dashboard 7? (SPEC §5.4)",
        {"user": ALICE, "project_id": 1, "resource": {"type": "dashboard", "id": 7}, "action": "write"},
    ),
    "spec_8_4": example(
        "Bob, hard-denied, reads project 1 (SPEC §8.4)", {"user": BOB, "project_id": 1, "action": "read"}
    ),
    "spec_8_11": example(
        "Wait for revision 42 first (SPEC §8.11)",
        {"user": BOB, "project_id": 1, "action": "read", "min_revision": 42},
    ),
}
CHECK_ANSWER: Final[Examples] = {
    "spec_5_4": example(
        "Refused: the dashboard is restricted (SPEC §5.4)",
        {
            "allowed": False,
            "status": 403,
            "detail": "You don't have edit permissions for this dashboard.",
            "levels": {
                "org_level": 1,
                "effective_level": 1,
                "project_access_level": "admin",
                "user_access_level": "editor",
                "access_source": "default",
                "restriction_level": 37,
                "effective_restriction_level": 37,
                "effective_privilege_level": 21,
                "can_edit": False,
                "can_restrict": False,
            },
            "reason": ["project_open", "default_level:editor", "level_ok", "dashboard_restricted"],
            "revision": 118,
        },
    )
}
CHECK_BATCH: Final[Examples] = {
    "spec_5_4": example(
        "A user and a key in one batch (SPEC §5.4)",
        {
            "checks": [
                {"user": ALICE, "project_id": 1, "action": "read"},
                {
                    "api_key": "phx_AbCdEf",
                    "project_id": 1,
                    "resource": {"type": "notebook"},
                    "action": "create",
                },
            ]
        },
    )
}
LEVELS: Final[Examples] = {
    "spec_5_4": example(
        "Alice's levels on project 1, dashboard 7, insight 42 and notebooks (SPEC §5.4)",
        {
            "user": ALICE,
            "project_id": 1,
            "dashboards": [7],
            "resources": [{"type": "insight", "id": "42"}],
            "resource_types": ["notebook"],
        },
    )
}
AUTHORIZE: Final[Examples] = {
    "spec_8_9": example(
        "A scoped key moves a tile (SPEC §8.9)",
        {
            "method": "PATCH",
            "path": "/api/environments/1/dashboards/7/move_tile/",
            "authorization": "Bearer phx_AbCdEf",
        },
    ),
    "spec_8_5": example(
        "Dan renames dashboard 7 (SPEC §8.5)",
        {"method": "PATCH", "path": "/api/environments/1/dashboards/7/", "user": DAN, "body": {"name": "x"}},
    ),
}
FILTER: Final[Examples] = {
    "spec_5_4": example(
        "Which notebooks may Alice list? (SPEC §5.4)",
        {"user": ALICE, "project_id": 1, "resource": "notebook"},
    ),
    "spec_8_7": example(
        "Bob's dashboards (SPEC §8.7)", {"user": BOB, "project_id": 1, "resource": "dashboard"}
    ),
}
FILTER_ANSWER: Final[Examples] = {
    "spec_8_7": example(
        "Every dashboard but 8, plus Bob's own (SPEC §8.7)",
        {"mode": "except", "ids": ["8"], "include_created_by": True, "created_by": 12, "revision": 118},
    )
}
