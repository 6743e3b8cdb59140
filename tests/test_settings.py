from pathlib import Path

import pytest

from acl_service.settings import ServiceToken, SettingsError, default_data_dir, load_settings


def test_defaults_follow_the_spec() -> None:
    settings = load_settings({"ACL_DATA_DIR": "/srv/acl"})
    assert settings.database_url is None
    assert settings.data_dir == Path("/srv/acl")
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.service_tokens == ()
    assert settings.fact_index_max_rows == 1_000_000
    assert settings.min_revision_wait_ms == 2000
    assert settings.policy_dir.name == "policies"


def test_every_variable_is_parsed() -> None:
    settings = load_settings(
        {
            "ACL_DATABASE_URL": "postgresql://acl@db/acl",
            "ACL_DATA_DIR": "/srv/acl",
            "ACL_POLICY_DIR": "/srv/policies",
            "ACL_HOST": "0.0.0.0",
            "ACL_PORT": "9000",
            "ACL_WORKERS": "2",
            "ACL_SERVICE_TOKENS": "admin:a-token, check:c:token",
            "ACL_DECISION_CACHE_SIZE": "0",
            "ACL_FACT_INDEX_MAX_ROWS": "10",
            "ACL_MIN_REVISION_WAIT_MS": "500",
            "ACL_LOG_LEVEL": "DEBUG",
            "ACL_LOG_FORMAT": "JSON",
            "PATH": "/usr/bin",
        }
    )
    assert settings.database_url == "postgresql://acl@db/acl"
    assert settings.policy_dir == Path("/srv/policies")
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 9000, 2)
    assert settings.service_tokens == (
        ServiceToken(role="admin", token="a-token"),
        ServiceToken(role="check", token="c:token"),
    )
    assert (settings.decision_cache_size, settings.fact_index_max_rows) == (0, 10)
    assert settings.min_revision_wait_ms == 500
    assert (settings.log_level, settings.log_format) == ("debug", "json")


def test_empty_token_list_means_none_configured() -> None:
    assert load_settings({"ACL_SERVICE_TOKENS": " "}).service_tokens == ()


def test_the_test_suite_variable_is_not_a_setting() -> None:
    load_settings({"ACL_TEST_DATABASE_URL": "postgresql://postgres@localhost/postgres"})


def test_data_folder_defaults_to_the_users_data_home() -> None:
    assert default_data_dir({"XDG_DATA_HOME": "/home/u/.data"}, as_root=False) == Path(
        "/home/u/.data/acl-service"
    )
    assert default_data_dir({"HOME": "/home/u"}, as_root=False) == Path("/home/u/.local/share/acl-service")


def test_root_data_folder_stays_out_of_the_home_folder() -> None:
    assert default_data_dir({"HOME": "/root"}, as_root=True) == Path("/var/lib/acl-service")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ACL_PROT": "8000"}, "ACL_PROT: unknown setting"),
        ({"ACL_PORT": "eighty"}, "ACL_PORT: expected an integer, got 'eighty'"),
        ({"ACL_PORT": "0"}, "ACL_PORT: expected an integer from 1 to 65535, got 0"),
        ({"ACL_PORT": "70000"}, "ACL_PORT: expected an integer from 1 to 65535, got 70000"),
        ({"ACL_WORKERS": "0"}, "ACL_WORKERS: expected an integer from 1 to 64, got 0"),
        ({"ACL_WORKERS": "1.5"}, "ACL_WORKERS: expected an integer, got '1.5'"),
        ({"ACL_DECISION_CACHE_SIZE": "-1"}, "ACL_DECISION_CACHE_SIZE: expected an integer from 0"),
        ({"ACL_FACT_INDEX_MAX_ROWS": "many"}, "ACL_FACT_INDEX_MAX_ROWS: expected an integer, got 'many'"),
        ({"ACL_MIN_REVISION_WAIT_MS": "-5"}, "ACL_MIN_REVISION_WAIT_MS: expected an integer from 0"),
        ({"ACL_SERVICE_TOKENS": "root:secret"}, "ACL_SERVICE_TOKENS: entry 1 has role 'root'"),
        ({"ACL_SERVICE_TOKENS": "admin:a,check:phx_abc"}, "ACL_SERVICE_TOKENS: entry 2 starts with 'phx_'"),
        ({"ACL_SERVICE_TOKENS": "admin-token"}, "ACL_SERVICE_TOKENS: entry 1 is not of the form role:token"),
        ({"ACL_SERVICE_TOKENS": "admin:"}, "ACL_SERVICE_TOKENS: entry 1 is not of the form role:token"),
        ({"ACL_SERVICE_TOKENS": "admin:a,"}, "ACL_SERVICE_TOKENS: entry 2 is not of the form role:token"),
        ({"ACL_SERVICE_TOKENS": "admin:a b"}, "ACL_SERVICE_TOKENS: entry 1 contains whitespace"),
        ({"ACL_SERVICE_TOKENS": "admin:a,check:a"}, "ACL_SERVICE_TOKENS: entry 2 repeats an earlier token"),
        ({"ACL_LOG_LEVEL": "loud"}, "ACL_LOG_LEVEL: expected one of debug, info, warning, error"),
        ({"ACL_LOG_FORMAT": "xml"}, "ACL_LOG_FORMAT: expected one of text, json, got 'xml'"),
        ({"ACL_DATABASE_URL": ""}, "ACL_DATABASE_URL: must not be empty"),
        ({"ACL_HOST": " "}, "ACL_HOST: must not be empty"),
    ],
)
def test_bad_values_stop_startup_with_one_line_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_token_errors_never_echo_the_token() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"ACL_SERVICE_TOKENS": "admin:very-secret,admin:very-secret"})
    assert "very-secret" not in str(raised.value)
