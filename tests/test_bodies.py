"""decode_body against every row of SPEC §6 that a JSON body can hit."""

import json
import uuid
from typing import Annotated, Any, Literal

import msgspec
import pytest
from msgspec import Meta

from acl_service.api.bodies import (
    MAX_BATCH,
    Name,
    NonNegativeInt,
    PersonName,
    PositiveId,
    ResourceId,
    decode_body,
    text,
)
from acl_service.errors import InvalidInput


class Resource(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["dashboard", "notebook"]
    id: ResourceId


class Check(msgspec.Struct, forbid_unknown_fields=True):
    user: uuid.UUID
    project_id: PositiveId
    resource: Resource


class Batch(msgspec.Struct, forbid_unknown_fields=True):
    checks: Annotated[list[Check], Meta(max_length=MAX_BATCH)]
    name: Name = "batch"
    level: Literal[21, 37] = 21
    offset: NonNegativeInt = 0
    flag: bool = False
    config: dict[str, Any] | None = None
    note: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)


USER = "0b5a3f9e-2c4d-4f6a-8b1c-9d8e7f6a5b4c"


def check(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"user": USER, "project_id": 1, "resource": {"type": "dashboard", "id": "7"}}
    body.update(overrides)
    return body


def batch(checks: Any = None, **overrides: Any) -> bytes:
    body: dict[str, Any] = {"checks": [check()] if checks is None else checks}
    body.update(overrides)
    return json.dumps(body).encode()


def resource(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "dashboard", "id": "7"}
    body.update(overrides)
    return body


CASES: list[tuple[str, bytes, str, str, str | None]] = [
    # (case, body, code, detail, attr)
    ("truncated JSON", b'{"checks": [', "parse_error", "JSON parse error - Input data was truncated", None),
    (
        "malformed JSON",
        b'{"checks" []}',
        "parse_error",
        "JSON parse error - JSON is malformed: expected ':' (byte 10)",
        None,
    ),
    ("body is a list", b"[]", "invalid", "Invalid data. Expected a dictionary, but got list.", None),
    ("body is a string", b'"x"', "invalid", "Invalid data. Expected a dictionary, but got str.", None),
    ("body is a number", b"3", "invalid", "Invalid data. Expected a dictionary, but got int.", None),
    ("body is null", b"null", "invalid", "Invalid data. Expected a dictionary, but got NoneType.", None),
    ("empty body", b"", "required", "This field is required.", "checks"),
    ("missing field", b"{}", "required", "This field is required.", "checks"),
    (
        "missing nested field",
        batch([check(), check(resource={"type": "dashboard"})]),
        "required",
        "This field is required.",
        "checks__1__resource__id",
    ),
    ("null not allowed", batch(name=None), "null", "This field may not be null.", "name"),
    ("nested null", batch([check(user=None)]), "null", "This field may not be null.", "checks__0__user"),
    ("unknown field", batch(colour="red"), "unknown_field", "Unknown field.", "colour"),
    (
        "nested unknown field",
        batch([check(), check(), check(), check(resource=resource(kind="x"))]),
        "unknown_field",
        "Unknown field.",
        "checks__3__resource__kind",
    ),
    (
        "string for integer",
        batch([check(project_id="1")]),
        "invalid",
        "A valid integer is required.",
        "checks__0__project_id",
    ),
    (
        "float for integer",
        batch([check(project_id=1.5)]),
        "invalid",
        "A valid integer is required.",
        "checks__0__project_id",
    ),
    (
        "boolean for integer",
        batch([check(project_id=True)]),
        "invalid",
        "A valid integer is required.",
        "checks__0__project_id",
    ),
    ("integer for string", batch(name=5), "invalid", "Not a valid string.", "name"),
    ("list for string", batch(note=["x"]), "invalid", "Not a valid string.", "note"),
    ("integer for boolean", batch(flag=1), "invalid", "Must be a valid boolean.", "flag"),
    ("string for boolean", batch(flag="true"), "invalid", "Must be a valid boolean.", "flag"),
    (
        "list for object",
        batch(config=[]),
        "invalid",
        "Invalid data. Expected a dictionary, but got list.",
        "config",
    ),
    (
        "string for nested object",
        batch([check(resource="dashboard")]),
        "invalid",
        "Invalid data. Expected a dictionary, but got str.",
        "checks__0__resource",
    ),
    (
        "object for list",
        batch(checks={}),
        "not_a_list",
        'Expected a list of items but got type "dict".',
        "checks",
    ),
    (
        "string for list",
        batch(tags="a"),
        "not_a_list",
        'Expected a list of items but got type "str".',
        "tags",
    ),
    ("malformed UUID", batch([check(user="nope")]), "invalid", "Must be a valid UUID.", "checks__0__user"),
    ("integer for UUID", batch([check(user=5)]), "invalid", "Must be a valid UUID.", "checks__0__user"),
    (
        "string outside choices",
        batch([check(), check(), check(), check(resource=resource(type="flag"))]),
        "invalid_choice",
        '"flag" is not a valid choice.',
        "checks__3__resource__type",
    ),
    (
        "integer for string choice",
        batch([check(resource=resource(type=5))]),
        "invalid_choice",
        '"5" is not a valid choice.',
        "checks__0__resource__type",
    ),
    ("integer outside choices", batch(level=22), "invalid_choice", '"22" is not a valid choice.', "level"),
    (
        "string for integer choice",
        batch(level="21"),
        "invalid_choice",
        '"21" is not a valid choice.',
        "level",
    ),
    (
        "id below 1",
        batch([check(project_id=0)]),
        "min_value",
        "Ensure this value is greater than or equal to 1.",
        "checks__0__project_id",
    ),
    (
        "offset below 0",
        batch(offset=-1),
        "min_value",
        "Ensure this value is greater than or equal to 0.",
        "offset",
    ),
    (
        "integer above 2^63-1",
        batch([check(project_id=2**63)]),
        "max_value",
        "Ensure this value is less than or equal to 9223372036854775807.",
        "checks__0__project_id",
    ),
    (
        "integer far above 2^64",
        batch([check(project_id=10**30)]),
        "max_value",
        "Ensure this value is less than or equal to 9223372036854775807.",
        "checks__0__project_id",
    ),
    (
        "string too long",
        batch(name="x" * 201),
        "max_length",
        "Ensure this field has no more than 200 characters.",
        "name",
    ),
    (
        "resource id too long",
        batch([check(resource=resource(id="a" * 37))]),
        "max_length",
        "Ensure this field has no more than 36 characters.",
        "checks__0__resource__id",
    ),
    ("empty string", batch(name=""), "blank", "This field may not be blank.", "name"),
    ("whitespace string", batch(name="  \t"), "blank", "This field may not be blank.", "name"),
    (
        "blank nested string",
        batch([check(resource=resource(id=""))]),
        "blank",
        "This field may not be blank.",
        "checks__0__resource__id",
    ),
    (
        "NUL in string",
        batch(note="a\x00b"),
        "null_characters_not_allowed",
        "Null characters are not allowed.",
        "note",
    ),
    (
        "NUL in list item",
        batch(tags=["ok", "b\x00"]),
        "null_characters_not_allowed",
        "Null characters are not allowed.",
        "tags__1",
    ),
    (
        "NUL in free-form object",
        batch(config={"a": {"b": "\x00"}}),
        "null_characters_not_allowed",
        "Null characters are not allowed.",
        "config__a__b",
    ),
    (
        "NUL in free-form key",
        batch(config={"a\x00": 1}),
        "null_characters_not_allowed",
        "Null characters are not allowed.",
        "config__a\x00",
    ),
    (
        "malformed resource id",
        batch([check(resource=resource(id="-7"))]),
        "invalid",
        "Enter a valid resource id.",
        "checks__0__resource__id",
    ),
    (
        "list too long",
        batch([check()] * (MAX_BATCH + 1)),
        "max_length",
        "Ensure this field has no more than 10000 elements.",
        "checks",
    ),
]


@pytest.mark.parametrize(
    ("body", "code", "detail", "attr"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_bad_body_gets_the_spec_envelope(body: bytes, code: str, detail: str, attr: str | None) -> None:
    with pytest.raises(InvalidInput) as raised:
        decode_body(body, Batch)
    assert (raised.value.code, raised.value.detail, raised.value.attr) == (code, detail, attr)


def test_valid_body_decodes_into_structs() -> None:
    decoded = decode_body(batch([check()] * MAX_BATCH, config={"hedgehog": ["x"]}, tags=["a"]), Batch)
    assert len(decoded.checks) == MAX_BATCH
    assert decoded.checks[0] == Check(
        user=uuid.UUID(USER), project_id=1, resource=Resource(type="dashboard", id="7")
    )
    assert decoded.config == {"hedgehog": ["x"]}
    assert decoded.level == 21


def test_largest_bigint_is_accepted() -> None:
    assert decode_body(batch([check(project_id=2**63 - 1)]), Batch).checks[0].project_id == 2**63 - 1


def test_whitespace_around_text_is_kept() -> None:
    assert decode_body(batch(name=" padded "), Batch).name == " padded "


class Person(msgspec.Struct, forbid_unknown_fields=True):
    first_name: PersonName = ""
    nickname: Annotated[str, text(5, allow_blank=True)] = ""


def test_blank_allowed_where_declared() -> None:
    assert decode_body(b'{"first_name": "", "nickname": "  "}', Person) == Person(
        first_name="", nickname="  "
    )
    with pytest.raises(InvalidInput) as raised:
        decode_body(b'{"nickname": "toolong"}', Person)
    assert (raised.value.code, raised.value.attr) == ("max_length", "nickname")
