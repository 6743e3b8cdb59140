"""Bulk import: rows staged with COPY, checked together, applied in one transaction and revision.

Order of work, all in one transaction on one connection:
1. TEMP staging tables (`stage_<table>`: the format's columns and the source line) are filled by
   COPY while every line is validated (`validate.py`); no fact table is touched yet.
2. Only then is the revision taken (its row lock serializes writers from here to commit) and the
   staged rows checked against each other and against the state they will produce: duplicate
   keys (in a table that is empty, its unique indexes find them), references to rows that will
   not exist, parents in another organization. Any problem rolls everything back.
3. Deletes (replace mode, or POST /api/sync's delete lines) run with the row triggers on, so
   cascades into other tables are recorded row by row. Then, with `acl.bulk_write` on, the row
   triggers queue nothing (migration 0003), and when nothing was deleted the foreign-key
   triggers are off too (`without_row_triggers`); the upserts write only rows that differ, and the
   import writes the changelog itself: one 'import' row per organization touched, which the fact
   index reloads whole, and one row per user, key or project changed, for its global maps.
4. If nothing changed, the transaction rolls back, so a re-import takes no revision.

Table and column names in the SQL built here come from `format.TABLES`, never from input.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from uuid import UUID

import asyncpg
import msgspec

from acl_service.errors import InvalidInput
from acl_service.store.facts import Connection
from acl_service.store.writes import CHANGES_CHANNEL
from acl_service.sync.files import TableFile, numbered_lines
from acl_service.sync.format import ORGANIZATIONS, PERSONAL_API_KEYS, TABLES, TABLES_BY_NAME, USERS, Table
from acl_service.sync.progress import Progress
from acl_service.sync.validate import LevelsOf, Problem, RowDecoder

Mode = Literal["merge", "replace"]

# Past this many, more problems of one kind would only bury the first ones.
MAX_PROBLEMS_PER_CHECK: Final = 100
PROGRESS_EVERY_ROWS: Final = 10_000
ANALYZE_AFTER_ROWS: Final = 1_000  # rows inserted or deleted in a table
# Statistics targets of the import's ANALYZEs (PostgreSQL's default is 100). The staged rows'
# plans need row counts and a rough number of distinct keys: at 10, 100,000 staged resources
# analyze in ~20 ms rather than 105. The tables keep enough for the fact index's per-organization
# plans (an organization past 1/30 of a table is in the most-common values), at a third of the cost.
STAGED_STATISTICS_TARGET: Final = 10
CHANGED_STATISTICS_TARGET: Final = 30
LINE: Final = "line"
APPLY_WORK_MEM: Final = "256MB"


class ImportRejectedError(Exception):
    """The rows were not applied; `problems` says why, one entry per problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s); nothing was written")


class Change(msgspec.Struct, frozen=True):
    op: str  # insert | update | delete
    key: dict[str, Any]


class TableSummary(msgspec.Struct, frozen=True):
    table: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    samples: tuple[Change, ...] = ()  # the first changes, when asked for (diff)

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


class ImportSummary(msgspec.Struct, frozen=True):
    revision: int | None  # None: nothing was committed (no change, or a dry run)
    tables: tuple[TableSummary, ...]

    @property
    def changed(self) -> int:
        return sum(table.changed for table in self.tables)


def stage_name(table: Table) -> str:
    return f"stage_{table.name}"


def delete_stage_name(table: Table) -> str:
    return f"stage_delete_{table.name}"


def matching(left: str, right: str, columns: Sequence[str], others: Sequence[str] | None = None) -> str:
    """`left.a = right.a AND ...` (or `left.a = right.x` pairing `columns` with `others`)."""
    return " AND ".join(f"{left}.{a} = {right}.{b}" for a, b in zip(columns, others or columns, strict=True))


def listed(alias: str, columns: Sequence[str]) -> str:
    return ", ".join(f"{alias}.{column}" for column in columns)


def key_json(alias: str, columns: Sequence[str]) -> str:
    return "jsonb_build_object(" + ", ".join(f"'{c}', {alias}.{c}" for c in columns) + ")"


def in_named_organizations(alias: str, table: Table) -> str:
    """SQL: the row of `table` at `alias` belongs to an organization of organizations.ndjson."""
    named = f"(SELECT id FROM {stage_name(TABLES_BY_NAME[ORGANIZATIONS])})"
    if table.organization_via is None:
        return f"{alias}.{table.organization_column} IN {named}"
    return (
        f"{alias}.{table.organization_column} IN "
        f"(SELECT id FROM {table.organization_via} WHERE organization_id IN {named})"
    )


def organization_of(alias: str, table: Table) -> str:
    """SQL: the organization of the row at `alias`, looked up now."""
    if table.organization_via is None:
        return f"{alias}.{table.organization_column}"
    column = f"{alias}.{table.organization_column}"
    return f"(SELECT organization_id FROM {table.organization_via} WHERE id = {column})"


def replaceable(table: Table) -> bool:
    """Tables whose rows a replace deletes per organization (users and organizations never)."""
    return table.organization_column is not None and table.name != ORGANIZATIONS


# -- staging -----------------------------------------------------------------------------------


async def create_staging(conn: Connection, *, with_deletes: bool = False) -> None:
    for table in TABLES:
        # Same column types as the table, no constraints: validation has checked the values.
        await conn.execute(
            f"CREATE TEMP TABLE {stage_name(table)} ON COMMIT DROP AS "
            f"SELECT {', '.join(table.columns)}, 0::bigint AS {LINE} FROM {table.name} WITH NO DATA"
        )
        if with_deletes:
            await conn.execute(
                f"CREATE TEMP TABLE {delete_stage_name(table)} ON COMMIT DROP AS "
                f"SELECT {', '.join(table.key)}, 0::bigint AS {LINE} FROM {table.name} WITH NO DATA"
            )


async def analyze(conn: Connection, names: Iterable[str], statistics_target: int) -> None:
    """ANALYZE the tables `names` (of format.TABLES or their staging, never input) in the
    transaction, sampling for `statistics_target`."""
    await conn.execute(f"SET LOCAL default_statistics_target = {statistics_target:d}")
    for name in names:
        await conn.execute(f"ANALYZE {name}")
    await conn.execute("SET LOCAL default_statistics_target = DEFAULT")


async def prepare_staged(conn: Connection, tables: Iterable[Table]) -> None:
    """Give the planner the staged rows' statistics before the checks and the apply join them with
    each other and with the tables (temp tables have none until analyzed)."""
    await analyze(conn, (stage_name(table) for table in tables), STAGED_STATISTICS_TARGET)


async def copy_rows(conn: Connection, table: Table, records: Iterable[tuple[Any, ...]]) -> None:
    await conn.copy_records_to_table(stage_name(table), records=records, columns=[*table.columns, LINE])


def file_records(
    table_file: TableFile, levels_of: LevelsOf, problems: list[Problem], progress: Progress | None
) -> Iterator[tuple[Any, ...]]:
    """The valid rows of one file as staging records; a bad line adds a problem and is skipped."""
    decoder = RowDecoder(table_file.table, levels_of)
    astuple = msgspec.structs.astuple
    with table_file.open() as stream:
        rows = size = 0
        for number, line in numbered_lines(stream):
            try:
                row = decoder.decode(line)
            except InvalidInput as error:
                problems.append(Problem(table_file.name, number, error.attr, error.detail))
            else:
                yield (*astuple(row), number)
            rows += 1
            size += len(line)
            if rows == PROGRESS_EVERY_ROWS and progress is not None:
                progress.advance(rows, size)
                rows = size = 0
        if progress is not None:
            progress.advance(rows, size)


# -- checks on the staged rows -----------------------------------------------------------------


@dataclass(slots=True)
class Plan:
    """What one import applies: the tables it has rows for, and how (a replace covers the
    organizations of the staged organizations.ndjson)."""

    mode: Mode
    present: frozenset[str]
    deletes: frozenset[str] = frozenset()  # tables with explicit deletes staged (POST /api/sync)

    def replaces(self, table: Table) -> bool:
        return self.mode == "replace" and table.name in self.present and replaceable(table)


def surviving(table: Table, plan: Plan, alias: str) -> str:
    """SQL: the live row at `alias` is not deleted by this import (replace mode, delete lines)."""
    conditions = ["true"]
    if plan.replaces(table):
        conditions.append(f"NOT {in_named_organizations(alias, table)}")
    if table.name in plan.deletes:
        deleted = f"SELECT FROM {delete_stage_name(table)} d WHERE {matching('d', alias, table.key)}"
        conditions.append(f"NOT EXISTS ({deleted})")
    return " AND ".join(conditions)


def future(table: Table, plan: Plan) -> str:
    """SQL: the rows `table` will hold once the import is applied (before cascades)."""
    columns = ", ".join(table.columns)
    kept = f"NOT EXISTS (SELECT FROM {stage_name(table)} s WHERE {matching('s', 't', table.key)})"
    kept += f" AND {surviving(table, plan, 't')}"
    return (
        f"(SELECT {columns} FROM {stage_name(table)} UNION ALL "
        f"SELECT {listed('t', table.columns)} FROM {table.name} t WHERE {kept})"
    )


@dataclass(frozen=True, slots=True)
class Check:
    table: Table
    sql: str  # selects line, field, message
    # A cheaper query answering whether `sql` can find anything, run first (None: run `sql`).
    guard: str | None = None


def duplicate_checks(table: Table) -> Iterator[Check]:
    for columns in (table.key, *table.uniques):
        # A NULL in a single-column key is no value at all; in access_controls' composite key
        # NULLs are equal (NULLS NOT DISTINCT), as GROUP BY treats them.
        where = f"WHERE {columns[0]} IS NOT NULL" if len(columns) == 1 else ""
        described, grouped = ", ".join(columns), f"{where} GROUP BY {', '.join(columns)} HAVING count(*) > 1"
        yield Check(
            table,
            f"SELECT unnest((array_agg({LINE} ORDER BY {LINE}))[2:]), '{columns[-1]}', "
            f"'Duplicate ({described}): the same as line ' || min({LINE}) FROM {stage_name(table)} {grouped}",
            # Counting alone takes half the time of gathering every group's lines.
            guard=f"SELECT EXISTS (SELECT FROM {stage_name(table)} {grouped})",
        )


def reference_checks(table: Table, plan: Plan) -> Iterator[Check]:
    for reference in table.references:
        parent = TABLES_BY_NAME[reference.parent]
        present = " AND ".join(f"c.{column} IS NOT NULL" for column in reference.columns)
        condition = matching("p", "c", reference.parent_columns, reference.columns)
        if reference.where:
            condition += f" AND {reference.where}"
        column = reference.columns[-1]
        # The staged parents first: a reference they hold never probes the table.
        yield Check(
            table,
            f"SELECT c.{LINE}, '{column}', 'Invalid pk \"' || c.{column} || '\" - object does not exist.' "
            f"FROM {stage_name(table)} c WHERE {present} "
            f"AND NOT EXISTS (SELECT FROM {stage_name(parent)} p WHERE {condition}) "
            f"AND NOT EXISTS (SELECT FROM {parent.name} p "
            f"WHERE {condition} AND {surviving(parent, plan, 'p')})",
        )


def in_project_organization(plan: Plan, child: str, column: str, parent: str, noun: str) -> Check:
    """The row `column` names (in `parent`) must be of the organization of the child's project."""
    projects, parents = future(TABLES_BY_NAME["projects"], plan), future(TABLES_BY_NAME[parent], plan)
    return Check(
        TABLES_BY_NAME[child],
        f"SELECT c.{LINE}, '{column}', 'The {noun} is not in the organization of the project.' "
        f"FROM stage_{child} c JOIN {projects} p ON p.id = c.project_id "
        f"JOIN {parents} x ON x.id = c.{column} WHERE x.organization_id <> p.organization_id",
    )


def organization_checks(plan: Plan) -> Iterator[Check]:
    """Parents in one organization, which the API enforces for every caller (SPEC §2)."""
    yield in_project_organization(
        plan, "explicit_memberships", "parent_membership_id", "organization_memberships", "membership"
    )
    yield in_project_organization(
        plan, "access_controls", "organization_member_id", "organization_memberships", "membership"
    )
    yield in_project_organization(plan, "access_controls", "role_id", "roles", "role")
    roles = future(TABLES_BY_NAME["roles"], plan)
    memberships = future(TABLES_BY_NAME["organization_memberships"], plan)
    yield Check(
        TABLES_BY_NAME["role_memberships"],
        f"SELECT c.{LINE}, 'organization_member_id', "
        "'This must be the membership of the user in the organization of the role.' "
        f"FROM stage_role_memberships c JOIN {roles} r ON r.id = c.role_id "
        f"JOIN {memberships} m ON m.id = c.organization_member_id "
        "WHERE m.organization_id <> r.organization_id OR m.user_id <> c.user_id",
    )


async def find_problems(conn: Connection, plan: Plan, empty: frozenset[str]) -> list[Problem]:
    """Every problem of the staged rows. The duplicates of a table that is `empty` are left to its
    unique indexes (see `run_counted`) unless another problem rejects the import anyway: no staged
    row can meet a stored one there, so the indexes find every duplicate the checks would, and a
    first load skips a GROUP BY per key."""
    present = [table for table in TABLES if table.name in plan.present]
    problems = await run_checks(
        conn,
        [
            *(check for table in present if table.name not in empty for check in duplicate_checks(table)),
            *(check for table in present for check in reference_checks(table, plan)),
            *(check for check in organization_checks(plan) if check.table.name in plan.present),
        ],
    )
    if problems:  # a rejected import names every problem it has
        problems += await run_checks(
            conn, (check for table in present if table.name in empty for check in duplicate_checks(table))
        )
    return sorted(problems, key=lambda problem: (problem.file, problem.line or 0))


async def run_checks(conn: Connection, checks: Iterable[Check]) -> list[Problem]:
    problems = []
    for check in checks:
        if check.guard is not None and not await conn.fetchval(check.guard):
            continue
        # Planned apart from the LIMIT: with it, the planner bets on finding the problems early and
        # picks nested loops, which scan everything when there are none (122 s at S=10).
        found = f"WITH found AS MATERIALIZED ({check.sql}) SELECT * FROM found LIMIT {MAX_PROBLEMS_PER_CHECK}"
        for line, column, message in await conn.fetch(found):
            problems.append(Problem(check.table.file_name, line, column, message))
    return problems


# -- applying ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Touched:
    """What the changelog must announce: organizations, and projects or roles to map to theirs."""

    organizations: set[UUID] = field(default_factory=set)
    projects: set[int] = field(default_factory=set)
    roles: set[UUID] = field(default_factory=set)

    def add(self, table: Table, values: Iterable[Any]) -> None:
        if table.organization_via == "projects":
            self.projects.update(values)
        elif table.organization_via == "roles":
            self.roles.update(values)
        elif table.organization_column is not None:
            self.organizations.update(values)


def changelog_insert(table: Table, op: str) -> str:
    """A CTE writing the changelog rows of changed users, keys or projects, read from `changed`."""
    organization = f"{table.organization_column}" if table.organization_column else "NULL::uuid"
    # Inside the importing transaction, acl_revision holds the revision it took.
    return (
        f", log AS (INSERT INTO changelog (revision, organization_id, table_name, op, row_key) "
        f"SELECT (SELECT value FROM acl_revision), {organization}, '{table.name}', {op}, log_key "
        "FROM changed)"
    )


def summary_select(op: str) -> str:
    return (
        "SELECT count(*) FILTER (WHERE inserted) AS inserted, "
        "count(*) FILTER (WHERE NOT inserted) AS updated, "
        # DISTINCT inside an aggregate sorts every row; a subquery's DISTINCT hashes them.
        "(SELECT array_agg(org) FROM (SELECT DISTINCT org FROM changed WHERE org IS NOT NULL) AS d) AS orgs, "
        f"(SELECT array_agg(jsonb_build_object('op', {op}, 'key', key)) "
        "FROM (SELECT inserted, key FROM changed LIMIT $1) AS first) AS samples FROM changed"
    )


def sample_key(table: Table, samples: int) -> str:
    """The key of a changed row, built only when the caller lists changes (a JSON value a row)."""
    return f"{key_json('t', table.key)} AS key" if samples else "NULL::jsonb AS key"


def upsert_sql(table: Table, samples: int) -> str:
    """Update the rows that differ, insert the new ones; unchanged rows are not touched at all.

    Two statements' worth rather than INSERT ... ON CONFLICT: a speculative insertion per row cost
    about twice a plain one, and no other writer can add the same keys meanwhile, since every
    writer holds the revision lock this import holds.
    """
    organization = f"t.{table.organization_column}" if table.organization_column else "NULL::uuid"
    returning = [f"{organization} AS org", sample_key(table, samples)]
    if table.changelog_key:
        if table.organization_column:
            returning.append(f"t.{table.organization_column}")
        returning.append(f"{key_json('t', table.changelog_key)} AS log_key")
    ctes = [
        f"inserted AS (INSERT INTO {table.name} AS t ({', '.join(table.columns)}) "
        f"SELECT {listed('s', table.columns)} FROM {stage_name(table)} s "
        f"WHERE NOT EXISTS (SELECT FROM {table.name} o WHERE {matching('o', 's', table.key)}) "
        f"RETURNING true AS inserted, {', '.join(returning)})"
    ]
    changed = "SELECT * FROM inserted"
    if table.values:
        targets, values = list(table.values), [listed("s", table.values)]
        if table.updated_at:
            targets.append("updated_at")
            values.append("now()")
        ctes.append(
            f"updated AS (UPDATE {table.name} AS t SET ({', '.join(targets)}) = "
            f"ROW({', '.join(values)}) FROM {stage_name(table)} s "
            f"WHERE {matching('t', 's', table.key)} "
            f"AND ({listed('t', table.values)}) IS DISTINCT FROM ({listed('s', table.values)}) "
            f"RETURNING false AS inserted, {', '.join(returning)})"
        )
        changed += " UNION ALL SELECT * FROM updated"
    op = "CASE WHEN inserted THEN 'insert' ELSE 'update' END"
    return (
        f"WITH {', '.join(ctes)}, changed AS ({changed})"
        + (changelog_insert(table, op) if table.changelog_key else "")
        + " "
        + summary_select(op)
    )


def first_load_sql(table: Table) -> str:
    """`upsert_sql`'s answer for a table that holds no row yet: every staged row is new (the
    checks found no duplicate key), so the rows go in by a plain INSERT, with no RETURNING to
    collect, and are counted and grouped by organization in the staging table. RETURNING cost
    about 130 ms per 100,000 rows."""
    stage, column = stage_name(table), table.organization_column
    return (
        f"WITH inserted AS (INSERT INTO {table.name} ({', '.join(table.columns)}) "
        f"SELECT {', '.join(table.columns)} FROM {stage}) "
        f"SELECT (SELECT count(*) FROM {stage}) AS inserted, 0 AS updated, "
        f"(SELECT array_agg(org) FROM (SELECT DISTINCT {column} AS org FROM {stage} "
        f"WHERE {column} IS NOT NULL) AS d) AS orgs, NULL::jsonb[] AS samples"
    )


def delete_sql(table: Table, condition: str, samples: int) -> str:
    """Deletes run with the row triggers on: a cascade (a user's keys, an organization's projects)
    reaches rows of other tables, and only the triggers see those."""
    return (
        f"WITH changed AS (DELETE FROM {table.name} t WHERE {condition} "
        f"RETURNING false AS inserted, NULL::uuid AS org, {sample_key(table, samples)}) "
        + summary_select("'delete'")
    )


def replace_condition(table: Table, plan: Plan) -> str | None:
    """Which rows a replace deletes: those of the named organizations not in the files."""
    absent = f"NOT EXISTS (SELECT FROM {stage_name(table)} s WHERE {matching('s', 't', table.key)})"
    if plan.replaces(table):
        return f"{in_named_organizations('t', table)} AND {absent}"
    if (
        table.name == PERSONAL_API_KEYS
        and plan.mode == "replace"
        and {USERS, PERSONAL_API_KEYS} <= plan.present
    ):
        # Keys belong to users, not organizations: the files are the truth for the users they list.
        return f"t.user_id IN (SELECT id FROM stage_users) AND {absent}"
    return None


def moved_sql(table: Table) -> str:
    """The organizations rows of `table` leave when the import moves them to another parent."""
    column = table.organization_column
    return (
        f"SELECT array_agg(DISTINCT {organization_of('t', table)}) FROM {table.name} t "
        f"JOIN {stage_name(table)} s ON {matching('s', 't', table.key)} WHERE t.{column} <> s.{column}"
    )


CONSTRAINT_ERRORS: Final = (
    asyncpg.UniqueViolationError,
    asyncpg.ForeignKeyViolationError,
    asyncpg.CheckViolationError,
    asyncpg.NotNullViolationError,
)


async def run_counted(
    conn: Connection, table: Table, sql: str, *args: Any, unchecked: Plan | None = None
) -> asyncpg.Record:
    """Run an apply statement; a constraint it breaks rejects the import. With `unchecked` (the
    import's plan, when `table` was empty and its duplicates were left to its unique indexes, see
    `find_problems`), it runs in a savepoint, so that a duplicate an index refuses is then named
    by line with every other problem, by the checks in full."""
    try:
        if unchecked is not None:
            async with conn.transaction():
                record: asyncpg.Record | None = await conn.fetchrow(sql, *args)
        else:
            record = await conn.fetchrow(sql, *args)
    except CONSTRAINT_ERRORS as error:
        if unchecked is not None and isinstance(error, asyncpg.UniqueViolationError):
            problems = await find_problems(conn, unchecked, empty=frozenset())
            if problems:
                raise ImportRejectedError(problems) from None
        # A conflict the checks above do not look for (a unique name or key held by a row outside
        # the files, a key limit): the database's own words name the row.
        detail = getattr(error, "detail", None) or str(error)
        constraint = getattr(error, "constraint_name", None)
        raise ImportRejectedError([Problem(table.file_name, None, constraint, detail)]) from None
    assert record is not None  # an aggregate always returns its row
    return record


def samples_of(record: asyncpg.Record) -> tuple[Change, ...]:
    return tuple(msgspec.convert(sample, Change) for sample in record["samples"] or ())


async def without_row_triggers(conn: Connection) -> bool:
    """Turn off the row triggers, PostgreSQL's foreign-key checks among them, for the rest of the
    transaction, where the role may (a superuser, or one granted SET ON PARAMETER
    session_replication_role): a foreign key costs a query per row, 5.5 µs each, about two
    thirds of inserting 100,000 resources. Elsewhere the import runs them, slower but the same."""
    try:
        async with conn.transaction():  # a savepoint: a refused SET must not abort the import
            await conn.execute("SET LOCAL session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        return False
    return True


async def empty_tables(conn: Connection, plan: Plan) -> frozenset[str]:
    """The tables of the import that hold no row (looked up under the revision lock, so no other
    writer can fill one before the import's own upsert does)."""
    return frozenset(
        [
            name
            for name in sorted(plan.present)
            if not await conn.fetchval(f"SELECT EXISTS (SELECT FROM {name})")
        ]
    )


async def apply_staged(
    conn: Connection, plan: Plan, *, revision: int | None = None, samples: int = 0
) -> tuple[int, list[TableSummary]]:
    """Check and apply the staged rows in the revision given (else one taken here); returns the
    revision and what changed per table. Raises ImportRejectedError with every problem found."""
    if revision is None:
        revision = await conn.fetchval("UPDATE acl_revision SET value = value + 1 RETURNING value")
    # The checks and upserts hash-join every staged table with its target; at the default 4 MB
    # a million rows spill to disk in batches.
    await conn.execute(f"SET LOCAL work_mem = '{APPLY_WORK_MEM}'")
    empty = await empty_tables(conn, plan)
    problems = await find_problems(conn, plan, empty)
    if problems:
        raise ImportRejectedError(problems)

    touched = Touched()
    for table in TABLES:
        if table.name in plan.present and table.organization_column not in (None, "id", *table.key):
            touched.organizations.update(await conn.fetchval(moved_sql(table)) or ())

    summaries: dict[str, TableSummary] = {}
    for table in reversed(TABLES):  # children first, so each table counts its own deletions
        conditions = [replace_condition(table, plan)]
        if table.name in plan.deletes:
            conditions.append(
                f"EXISTS (SELECT FROM {delete_stage_name(table)} d WHERE {matching('d', 't', table.key)})"
            )
        condition = " OR ".join(f"({c})" for c in conditions if c)
        if condition:
            record = await run_counted(conn, table, delete_sql(table, condition, samples), samples)
            summaries[table.name] = TableSummary(
                table.name, deleted=record["updated"], samples=samples_of(record)
            )

    await conn.execute("SET LOCAL acl.bulk_write = 'on'")
    # With nothing deleted, no cascade can remove a row the checks above found, and no other
    # writer can (they wait on the revision lock), so the checks stand in for the foreign keys.
    cascaded = any(summary.deleted for summary in summaries.values())
    triggers_off = not cascaded and await without_row_triggers(conn)
    for table in TABLES:
        if table.name not in plan.present:
            continue
        unchecked = plan if table.name in empty else None
        # Users, keys and projects write a changelog row each, which needs the RETURNING.
        first_load = unchecked is not None and not (table.changelog_key or samples)
        if first_load:
            record = await run_counted(conn, table, first_load_sql(table), unchecked=plan)
        else:
            record = await run_counted(conn, table, upsert_sql(table, samples), samples, unchecked=unchecked)
        touched.add(table, record["orgs"] or ())
        staged: int = (
            record["inserted"]  # a first load inserts every staged row
            if first_load
            else await conn.fetchval(f"SELECT count(*) FROM {stage_name(table)}")
        )
        deleted = summaries.get(table.name, TableSummary(table.name))
        summaries[table.name] = TableSummary(
            table.name,
            inserted=record["inserted"],
            updated=record["updated"],
            unchanged=staged - record["inserted"] - record["updated"],
            deleted=deleted.deleted,
            samples=(*deleted.samples, *samples_of(record))[:samples],
        )

    if triggers_off:
        await conn.execute("SET LOCAL session_replication_role = origin")

    touched.organizations.update(
        await conn.fetchval(
            "SELECT coalesce(array_agg(DISTINCT organization_id), '{}') FROM ("
            "SELECT organization_id FROM projects WHERE id = any($1::bigint[]) UNION ALL "
            "SELECT organization_id FROM roles WHERE id = any($2::uuid[])) AS parents",
            list(touched.projects),
            list(touched.roles),
        )
    )
    organizations = sorted(touched.organizations)
    await conn.execute(
        "INSERT INTO changelog (revision, organization_id, table_name, op, row_key) "
        "SELECT $1, o, 'organizations', 'import', jsonb_build_object('id', o) FROM unnest($2::uuid[]) AS o",
        revision,
        organizations,
    )
    await conn.execute(
        "SELECT pg_notify($1, $2 || ':' || o) FROM unnest($3::uuid[]) AS o",
        CHANGES_CHANNEL,
        str(revision),
        organizations,
    )
    await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, f"{revision}:")
    await conn.execute("SET LOCAL acl.bulk_write = 'off'")
    ordered = tuple(summaries[table.name] for table in TABLES if table.name in summaries)
    return revision, list(ordered)


async def import_files(
    pool: asyncpg.Pool,
    files: Sequence[TableFile],
    mode: Mode,
    levels_of: LevelsOf,
    *,
    progress: Progress | None = None,
    dry_run: bool = False,
    samples: int = 0,
) -> ImportSummary:
    """Validate, stage and apply `files` in one transaction; raises ImportRejectedError.

    A dry run (the drift check) applies everything and rolls back, so its counts are exact.
    """
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await create_staging(conn)
            problems: list[Problem] = []
            for table_file in files:
                await copy_rows(
                    conn, table_file.table, file_records(table_file, levels_of, problems, progress)
                )
            if progress is not None:
                progress.finish()
            if mode == "replace" and not any(f.table.name == ORGANIZATIONS for f in files):
                problems.append(
                    Problem(
                        f"{ORGANIZATIONS}.ndjson",
                        None,
                        None,
                        "--mode replace needs the organizations it replaces.",
                    )
                )
            if problems:
                raise ImportRejectedError(problems)
            await prepare_staged(conn, (table_file.table for table_file in files))
            if progress is not None:
                progress.phase("applying")
            plan = Plan(mode, frozenset(f.table.name for f in files))
            revision, tables = await apply_staged(conn, plan, samples=samples)
            summary = ImportSummary(revision, tuple(tables))
            if summary.changed and not dry_run:
                # Analyzed before the commit, so that the instances reloading the organizations
                # it announces plan their queries on statistics that describe the new rows.
                await analyze_changed(conn, summary)
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run or not summary.changed:
            await transaction.rollback()
            return msgspec.structs.replace(summary, revision=None)
        await transaction.commit()
    return summary


async def analyze_changed(conn: Connection, summary: ImportSummary) -> None:
    """A bulk load leaves the planner's statistics describing the tables before it, and the fact
    index's per-organization queries must stay index-backed at any size (issue 12). ANALYZE in
    the importing transaction samples its own new rows, and its statistics commit with them."""
    changed = (
        table.table for table in summary.tables if table.inserted + table.deleted >= ANALYZE_AFTER_ROWS
    )
    await analyze(conn, changed, CHANGED_STATISTICS_TARGET)
