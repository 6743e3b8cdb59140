"""Request bodies: JSON into msgspec Structs, every failure as the 400 envelope of SPEC §6.

msgspec validates types and `Meta` constraints and stops at the first problem; its message names
the problem and the JSON path. The message is only used to find *which* check failed and *where*:
the wording the API promises comes from the target type (found with `msgspec.inspect` at that
path) and from the offending JSON value (found in an untyped decode of the same body).

Everything is checked inside msgspec's decoder, so a valid body costs one C-level decode: blank
strings are a `pattern` of `text()` types, and NUL characters (which JSON can only spell `\u0000`)
are looked for only in bodies whose bytes contain that escape.

Body Structs should set `forbid_unknown_fields=True` and use the annotated types below.
"""

import re
from typing import Annotated, Any, Final, TypeVar

import msgspec
from msgspec import Meta
from msgspec import inspect as mi

from acl_service.errors import InvalidInput

T = TypeVar("T")

MAX_BIGINT: Final = 2**63 - 1
MAX_BATCH: Final = 10_000
# Bounds of a free-form JSON field stored as sent (hedgehog_config): its encoded size, which (unlike
# a key count) also bounds long strings, and its nesting depth.
MAX_STORED_JSON_BYTES: Final = 64 * 1024
MAX_STORED_JSON_DEPTH: Final = 64
NUL_ESCAPE: Final = b"\\u0000"
# msgspec reports a high surrogate escape without its low half (`"\ud800"`) as truncated input.
UNPAIRED_SURROGATE: Final = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])")
# Numbers past float range read as infinity, so the typed decode's error can be worded.
UNTYPED_DECODER: Final = msgspec.json.Decoder(float_hook=float)


def text(max_length: int, *, allow_blank: bool = False) -> Meta:
    """Constraints of a text field: at most `max_length` characters, not blank unless allowed."""
    if allow_blank:
        return Meta(max_length=max_length)
    return Meta(
        min_length=1,
        max_length=max_length,
        # Whitespace only is blank too (DRF strips before its check); msgspec searches, not matches.
        pattern=r"\S",
        extra={"pattern_code": "blank", "pattern_detail": "This field may not be blank."},
    )


# SPEC §2's resource id. msgspec searches with Python's `re`, where `$` also matches before a
# final newline ("x\n" would pass and then break the column's CHECK); `(?!\n)` closes that and,
# unlike `\Z`, still reads the same in the OpenAPI schema's ECMA dialect.
RESOURCE_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$(?!\n)"

PositiveId = Annotated[int, Meta(ge=1, le=MAX_BIGINT)]
NonNegativeInt = Annotated[int, Meta(ge=0, le=MAX_BIGINT)]
Name = Annotated[str, text(200)]
Label = Annotated[str, text(40)]
Email = Annotated[str, text(254)]
PersonName = Annotated[str, text(150, allow_blank=True)]
ResourceId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=36,
        pattern=RESOURCE_ID_PATTERN,
        extra={"pattern_code": "invalid", "pattern_detail": "Enter a valid resource id."},
    ),
]

PathSegment = str | int

MISSING_FIELD = re.compile(r"^Object missing required field `(?P<field>.*)`$")
UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<field>.*)`$")
LOWER_BOUND = re.compile(r"^Expected `\w+` (?:of length )?>= (?P<bound>-?\d+)$")
UPPER_BOUND = re.compile(r"^Expected `\w+` (?:of length )?<= (?P<bound>-?\d+)$")
PATH_SEGMENT = re.compile(r"\.(?P<key>[^.\[]+)|\[(?P<index>\d+)\]|\[\.\.\.\]")


def decode_body(raw: bytes, body_type: type[T]) -> T:
    """Decode a JSON request body; an empty body is an empty object, as DRF treats it."""
    if not raw.strip():
        raw = b"{}"
    try:
        value = msgspec.json.decode(raw, type=body_type, strict=True)
    except msgspec.ValidationError as error:
        raise translate_validation_error(str(error), raw, body_type) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as error:
        raise parse_error(error, raw) from None
    if NUL_ESCAPE in raw:
        reject_nul_characters(value, [])
    return value


def check_stored_json(value: dict[str, Any], attr: str) -> None:
    """Refuse a free-form JSON object past MAX_STORED_JSON_BYTES or MAX_STORED_JSON_DEPTH."""
    if len(msgspec.json.encode(value)) > MAX_STORED_JSON_BYTES:
        raise InvalidInput(
            f"Ensure this field has no more than {MAX_STORED_JSON_BYTES} bytes of JSON.",
            code="max_length",
            attr=attr,
        )
    depth = 0
    level: list[Any] = [value]
    while level:
        depth += 1
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    if depth > MAX_STORED_JSON_DEPTH:
        raise InvalidInput(
            f"Ensure this field is nested no more than {MAX_STORED_JSON_DEPTH} levels deep.",
            code="max_depth",
            attr=attr,
        )


def decode_untyped(raw: bytes) -> Any:
    """The body as plain JSON values; a body that is not JSON is the same 400 as in `decode_body`."""
    try:
        return UNTYPED_DECODER.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as error:
        raise parse_error(error, raw) from None


def parse_error(error: Exception, raw: bytes) -> InvalidInput:
    if isinstance(error, UnicodeDecodeError):
        reason = "invalid UTF-8"
    elif isinstance(error, RecursionError):
        reason = "nested too deeply"
    elif "surrogate" in str(error) or ("truncated" in str(error) and UNPAIRED_SURROGATE.search(raw)):
        reason = "invalid unicode escape"
    else:
        reason = str(error)
    return InvalidInput(f"JSON parse error - {reason}", code="parse_error")


def field_path(segments: list[PathSegment]) -> str | None:
    return "__".join(str(segment) for segment in segments) or None


TYPE_INFO_CACHE: dict[object, mi.Type] = {}


def type_info(body_type: object) -> mi.Type:
    # Body types are a fixed set of classes, so the cache stays small.
    info = TYPE_INFO_CACHE.get(body_type)
    if info is None:
        info = TYPE_INFO_CACHE[body_type] = mi.type_info(body_type)
    return info


def split_message(message: str) -> tuple[str, list[PathSegment]]:
    problem, _, location = message.partition(" - at `")
    segments: list[PathSegment] = []
    for match in PATH_SEGMENT.finditer(location.rstrip("`").removeprefix("$")):
        if match.group("key") is not None:
            segments.append(match.group("key"))
        elif match.group("index") is not None:
            segments.append(int(match.group("index")))
        else:
            break  # a dict value: msgspec does not say which key, so the dict is the attr
    return problem, segments


def unwrap(info: mi.Type) -> mi.Type:
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.UnionType):
        # Optional[X] validates as X; a wider union has no single expectation.
        types = [member for member in info.types if not isinstance(member, mi.NoneType)]
        if len(types) == 1:
            return unwrap(types[0])
    return info


def pattern_error(info: mi.Type) -> tuple[str, str]:
    while isinstance(info, mi.Metadata):
        if info.extra and "pattern_code" in info.extra:
            return str(info.extra["pattern_code"]), str(info.extra["pattern_detail"])
        info = info.type
    return "invalid", "This value does not match the required pattern."


def descend(info: mi.Type, segment: PathSegment) -> mi.Type:
    inner = unwrap(info)
    if isinstance(inner, mi.StructType) and isinstance(segment, str):
        for field in inner.fields:
            if field.encode_name == segment:
                return field.type
    if isinstance(inner, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
        return inner.item_type
    if isinstance(inner, mi.TupleType) and isinstance(segment, int) and segment < len(inner.item_types):
        return inner.item_types[segment]
    if isinstance(inner, mi.DictType):
        return inner.value_type
    return mi.AnyType()


def value_at(document: Any, segments: list[PathSegment]) -> Any:
    for segment in segments:
        document = document[segment]
    return document


def json_type_name(value: Any) -> str:
    names: dict[type, str] = {
        dict: "dict",
        list: "list",
        str: "str",
        bool: "bool",
        int: "int",
        float: "float",
    }
    return names.get(type(value), "NoneType")


def translate_validation_error(message: str, raw: bytes, body_type: Any) -> InvalidInput:
    problem, segments = split_message(message)
    if match := MISSING_FIELD.match(problem):
        return InvalidInput(
            "This field is required.", code="required", attr=field_path([*segments, match["field"]])
        )
    if match := UNKNOWN_FIELD.match(problem):
        return InvalidInput(
            "Unknown field.", code="unknown_field", attr=field_path([*segments, match["field"]])
        )

    declared: mi.Type = type_info(body_type)
    for segment in segments:
        declared = descend(declared, segment)
    target = unwrap(declared)
    value = value_at(decode_untyped(raw), segments)
    attr = field_path(segments)
    lower, upper = LOWER_BOUND.match(problem), UPPER_BOUND.match(problem)

    def invalid(detail: str, code: str = "invalid") -> InvalidInput:
        return InvalidInput(detail, code=code, attr=attr)

    if value is None and segments:
        return invalid("This field may not be null.", "null")
    if isinstance(target, mi.LiteralType | mi.EnumType):
        return invalid(f'"{value}" is not a valid choice.', "invalid_choice")
    if isinstance(target, mi.StructType | mi.DictType | mi.TypedDictType | mi.DataclassType):
        return invalid(f"Invalid data. Expected a dictionary, but got {json_type_name(value)}.")
    if isinstance(target, mi.ListType | mi.VarTupleType | mi.TupleType | mi.SetType | mi.FrozenSetType):
        if isinstance(value, list) and upper:
            return invalid(f"Ensure this field has no more than {upper['bound']} elements.", "max_length")
        if isinstance(value, list) and lower:
            return invalid("This list may not be empty.", "empty")
        return invalid(f'Expected a list of items but got type "{json_type_name(value)}".', "not_a_list")
    if isinstance(target, mi.IntType):
        if isinstance(value, int) and not isinstance(value, bool) and lower:
            return invalid(f"Ensure this value is greater than or equal to {lower['bound']}.", "min_value")
        if isinstance(value, int) and not isinstance(value, bool) and upper:
            return invalid(f"Ensure this value is less than or equal to {upper['bound']}.", "max_value")
        return invalid("A valid integer is required.")
    if isinstance(target, mi.StrType):
        if isinstance(value, str) and lower:
            if int(lower["bound"]) <= 1:
                return invalid("This field may not be blank.", "blank")
            return invalid(f"Ensure this field has at least {lower['bound']} characters.", "min_length")
        if isinstance(value, str) and upper:
            return invalid(f"Ensure this field has no more than {upper['bound']} characters.", "max_length")
        if isinstance(value, str) and problem.startswith("Expected `str` matching regex"):
            code, detail = pattern_error(declared)
            return invalid(detail, code)
        return invalid("Not a valid string.")
    if isinstance(target, mi.BoolType):
        return invalid("Must be a valid boolean.")
    if isinstance(target, mi.UUIDType):
        return invalid("Must be a valid UUID.")
    if isinstance(target, mi.FloatType):
        return invalid("A valid number is required.")
    return invalid("Invalid value.")


def reject_nul_characters(value: Any, segments: list[PathSegment]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput(
                "Null characters are not allowed.",
                code="null_characters_not_allowed",
                attr=field_path(segments),
            )
    elif isinstance(value, msgspec.Struct):
        for field in msgspec.structs.fields(value):
            reject_nul_characters(getattr(value, field.name), [*segments, field.encode_name])
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            reject_nul_characters(item, [*segments, index])
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul_characters(key, [*segments, str(key)])
            reject_nul_characters(item, [*segments, str(key)])
