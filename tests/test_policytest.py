"""`acl-service policy test`: the shipped policy tests pass, cover every rule, and bad files are reported."""

import io
import textwrap
from pathlib import Path

import pytest

from acl_service.authz.engine import PolicyEngine
from acl_service.policytest import (
    DEFAULT_TESTS_DIR,
    EXIT_FAILED,
    EXIT_MALFORMED,
    EXIT_PASSED,
    evaluate_policy_tests,
    main,
    run_policy_tests,
)

HARD_DENY_FACTS = (
    "{org_level: 1, legacy_private: false, ac_on: true, access_control: false,"
    " default_row: null, specific: [none], explicit_level: 0}"
)


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.load()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run(paths: list[Path], engine: PolicyEngine) -> tuple[int, str]:
    out = io.StringIO()
    status = run_policy_tests(paths, out=out, engine=engine)
    return status, out.getvalue()


def test_shipped_policy_tests_pass(engine: PolicyEngine) -> None:
    status, report = run([DEFAULT_TESTS_DIR], engine)
    assert status == EXIT_PASSED, report
    summary = report.splitlines()[-1]
    assert summary.endswith(" passed, 0 failed")
    assert int(summary.split()[0]) > 400


def test_shipped_policy_tests_pass_on_the_stock_casbin_enforcer() -> None:
    stock = PolicyEngine.load(evaluator="casbin")
    status, report = run([DEFAULT_TESTS_DIR], stock)
    assert status == EXIT_PASSED, report


def test_every_rule_decides_some_shipped_case(engine: PolicyEngine) -> None:
    result = evaluate_policy_tests([DEFAULT_TESTS_DIR], engine)
    never_decided = [rule.rule for rule in engine.all_rules() if rule.rule not in result.rules_hit]
    assert never_decided == []


def test_every_section_3_subsection_and_section_8_have_a_file() -> None:
    subsections = {path.name[:4] for path in DEFAULT_TESTS_DIR.glob("3_*.yaml")}
    assert subsections == {f"3_{n:02d}" for n in range(1, 15)}
    assert (DEFAULT_TESTS_DIR / "8_worked_examples.yaml").is_file()


def test_wrong_expectation_fails_showing_expected_actual_and_deciding_rule(
    tmp_path: Path, engine: PolicyEngine
) -> None:
    path = write(
        tmp_path,
        "wrong.yaml",
        f"""\
        cases:
          - name: hard deny mistaken for an open project
            decide: project
            facts: {HARD_DENY_FACTS}
            expect: {{effective_level: 1}}
          - name: hard deny
            decide: project
            facts: {HARD_DENY_FACTS}
            expect: {{effective_level: null}}
        """,
    )
    status, report = run([path], engine)
    assert status == EXIT_FAILED
    assert f"{path}: 1 passed, 1 failed" in report
    assert "FAIL case 'hard deny mistaken for an open project' (decide project)" in report
    assert "effective_level: expected 1, got null (rule 3.4.3.hard_deny)" in report
    assert report.splitlines()[-1] == "1 passed, 1 failed"


def test_wrong_rule_expectation_fails(tmp_path: Path, engine: PolicyEngine) -> None:
    path = write(
        tmp_path,
        "rule.yaml",
        f"""\
        cases:
          - name: hard deny
            decide: project
            facts: {HARD_DENY_FACTS}
            expect: {{effective_level: null}}
            rule: {{effective_level: 3.4.5.open}}
        """,
    )
    status, report = run([path], engine)
    assert status == EXIT_FAILED
    assert "rule of effective_level: expected 3.4.5.open, got 3.4.3.hard_deny" in report


def test_wrong_scenario_answer_fails_showing_the_rules_behind_it(
    tmp_path: Path, engine: PolicyEngine
) -> None:
    path = write(
        tmp_path,
        "scenario.yaml",
        """\
        scenarios:
          - name: a member row of none
            features: [access_control]
            users: {bob: 1}
            access_controls:
              - {resource: project, member: bob, level: none}
            questions:
              - {ask: effective_level, user: bob, expect: 1}
        """,
    )
    status, report = run([path], engine)
    assert status == EXIT_FAILED
    assert "FAIL scenario 'a member row of none': effective_level user=bob" in report
    assert "expected 1, got null" in report
    assert "3.4.3.hard_deny" in report


def test_a_boolean_answer_does_not_match_an_integer(tmp_path: Path, engine: PolicyEngine) -> None:
    path = write(
        tmp_path,
        "bool.yaml",
        """\
        cases:
          - {name: member grants, decide: grants_access, facts: {level: member}, expect: {grants: 1}}
        """,
    )
    assert run([path], engine)[0] == EXIT_FAILED


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            """\
            cases:
              - name: typo
                decide: project
                facts: {org_levle: 1}
                expect: {effective_level: 1}
            """,
            "case #1 'typo': unknown fact(s) org_levle for project",
            id="unknown fact",
        ),
        pytest.param(
            f"""\
            cases:
              - name: first
                decide: project
                facts: {HARD_DENY_FACTS}
                expect: {{effective_level: null}}
              - name: bad type
                decide: project
                facts: {{org_level: one, legacy_private: false, ac_on: true, access_control: false,
                        default_row: null, specific: [], explicit_level: 0}}
                expect: {{effective_level: 1}}
            """,
            "case #2 'bad type': facts: Expected `int`, got `str` - at `$.org_level`",
            id="bad fact type",
        ),
        pytest.param(
            """\
            cases:
              - {name: extra, decide: gates, facts: {features: []}, expect: {ac_on: false}, because: x}
            """,
            "case #1 'extra': Object contains unknown field `because`",
            id="unknown case key",
        ),
        pytest.param(
            """\
            cases:
              - {name: answer, decide: gates, facts: {features: []}, expect: {ac_off: false}}
            """,
            "case #1 'answer': unknown answer(s) ac_off for gates",
            id="unknown answer",
        ),
        pytest.param(
            """\
            cases:
              - {name: family, decide: projects, facts: {}, expect: {a: 1}}
            """,
            "case #1 'family': unknown decision family 'projects'",
            id="unknown family",
        ),
        pytest.param(
            """\
            cases:
              - {name: code, decide: check.NOPE, facts: {caller: user, method: GET}, expect: {allowed: true}}
            """,
            "case #1 'code': unknown permission code 'NOPE'",
            id="unknown permission code",
        ),
        pytest.param(
            """\
            scenarios:
              - name: world
                users: {bob: 1}
                questions:
                  - {ask: effective_level, user: rob, expect: 1}
            """,
            "scenario #1 'world': question #1: unknown user 'rob'",
            id="unknown user in a question",
        ),
        pytest.param(
            """\
            scenarios:
              - name: world
                users: {bob: 1}
                access_controls:
                  - {resource: notebook, role: eng, level: none}
                questions: []
            """,
            "scenario #1 'world': unknown role 'eng'",
            id="unknown role in a row",
        ),
        pytest.param(
            """\
            scenarios:
              - name: world
                users: {bob: 2}
                questions: []
            """,
            "scenario #1 'world': Invalid enum value 2 - at `$.users[...]`",
            id="bad organization level",
        ),
        pytest.param(
            """\
            scenarios:
              - name: world
                users: {bob: 1}
                questions:
                  - {ask: effective_level, user: bob, expect: 1, explicit: true}
            """,
            "scenario #1 'world': question #1: Object contains unknown field `explicit`",
            id="argument the question does not take",
        ),
        pytest.param(
            """\
            cases:
              - {name: rule, decide: gates, facts: {features: []}, expect: {ac_on: false}, rule: gate.on}
            """,
            "case #1 'rule': unknown rule id(s) gate.on",
            id="unknown rule id",
        ),
        pytest.param("case: []\n", "Object contains unknown field `case`", id="unknown top-level key"),
        pytest.param("cases: [\n", "while parsing", id="not YAML"),
    ],
)
def test_malformed_file_is_reported_naming_file_and_case(
    tmp_path: Path, engine: PolicyEngine, body: str, message: str
) -> None:
    path = write(tmp_path, "bad.yaml", body)
    status, report = run([path], engine)
    assert status == EXIT_MALFORMED
    assert f"{path}: malformed: " in report
    assert message in report
    assert report.splitlines()[-1] == "0 passed, 0 failed"


def test_malformed_file_wins_over_failures_in_other_files(tmp_path: Path, engine: PolicyEngine) -> None:
    write(tmp_path, "a_bad.yaml", "cases: [{name: x}]\n")
    write(
        tmp_path,
        "b_wrong.yaml",
        "cases: [{name: y, decide: max_level, facts: {levels: []}, expect: {level: none}}]\n",
    )
    status, report = run([tmp_path], engine)
    assert status == EXIT_MALFORMED
    assert "b_wrong.yaml: 0 passed, 1 failed" in report


def test_directories_are_searched_recursively_for_yaml_and_yml(tmp_path: Path, engine: PolicyEngine) -> None:
    case = "cases: [{name: z, decide: max_level, facts: {levels: [none]}, expect: {level: none}}]\n"
    write(tmp_path, "top.yaml", case)
    (tmp_path / "nested").mkdir()
    write(tmp_path / "nested", "deep.yml", case)
    write(tmp_path / "nested", "notes.md", "not a test\n")
    status, report = run([tmp_path], engine)
    assert status == EXIT_PASSED
    assert report.splitlines()[-1] == "2 passed, 0 failed"


@pytest.mark.parametrize("name", ["missing.yaml", "empty_dir"])
def test_missing_path_or_directory_without_tests_is_an_error(
    tmp_path: Path, engine: PolicyEngine, name: str
) -> None:
    if name == "empty_dir":
        (tmp_path / name).mkdir()
    status, report = run([tmp_path / name], engine)
    assert status == EXIT_MALFORMED
    assert str(tmp_path / name) in report


def test_main_runs_the_given_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "t.yaml",
        "cases: [{name: z, decide: max_level, facts: {levels: []}, expect: {level: null}}]\n",
    )
    assert main([str(path)]) == EXIT_PASSED
    assert capsys.readouterr().out.splitlines()[-1] == "1 passed, 0 failed"
