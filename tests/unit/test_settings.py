"""Settings: every VIGIL_* variable, validated once; bad values name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.exceptions import ConfigError
from streams.settings import DEMO_PSEUDONYM_KEY, Settings, load_settings

pytestmark = pytest.mark.usefixtures("clean_env")

SECRET_KEY = "s3cret-key-please-do-not-log-me-0042"


def test_defaults_run_the_local_demo_stack() -> None:
    settings = load_settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert settings.app_id == "vigil"
    assert settings.web_host == "127.0.0.1"
    assert settings.web_port == 6066
    assert settings.demo is False
    assert settings.uses_demo_key
    assert settings.processing_guarantee == "at_least_once"
    assert settings.producer_acks == "all"
    assert settings.batch_max == 500
    assert settings.batch_within_s == pytest.approx(0.02)
    assert settings.max_message_bytes == 1_000_000
    assert settings.cache_dir == Path.home() / ".cache" / "vigil"
    assert settings.state_dir == settings.cache_dir / "worker" / "vigil"
    assert "adalimumab" in settings.watch_list and "semaglutide" in settings.watch_list


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {
        "VIGIL_KAFKA_BOOTSTRAP": "kafka-1.internal:9093, kafka-2.internal:9093",
        "VIGIL_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "VIGIL_KAFKA_SASL_USERNAME": "vigil-worker",
        "VIGIL_APP_ID": "vigil-eu",
        "VIGIL_WEB_PORT": "7070",
        "VIGIL_DEMO": "1",
        "VIGIL_PSEUDONYM_KEY": SECRET_KEY,
        "VIGIL_CACHE_DIR": str(tmp_path),
        "VIGIL_BATCH_MAX": "50",
        "VIGIL_BATCH_WITHIN_S": "0.5",
        "VIGIL_PROCESSING_GUARANTEE": "exactly_once",
        "VIGIL_LOG_LEVEL": "debug",
        "VIGIL_WATCH_DRUGS": " Adalimumab, Insulin Glargine ,,",
        "VIGIL_ALERTMANAGER_URL": "https://am.internal:9093/",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.kafka_bootstrap == "kafka-1.internal:9093,kafka-2.internal:9093"
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_username == "vigil-worker"
    assert settings.app_id == "vigil-eu"
    assert settings.web_port == 7070
    assert settings.demo is True
    assert settings.pseudonym_key.get_secret_value() == SECRET_KEY
    assert not settings.uses_demo_key
    assert settings.cache_dir == tmp_path
    assert settings.state_dir == tmp_path / "worker" / "vigil-eu"
    assert settings.batch_max == 50
    assert settings.batch_within_s == pytest.approx(0.5)
    assert settings.processing_guarantee == "exactly_once"
    assert settings.log_level == "debug"
    assert settings.watch_list == ("adalimumab", "insulin glargine")
    assert settings.alertmanager_url == "https://am.internal:9093"


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_WEB_PORT", "7070")
    assert load_settings(web_port=7171).web_port == 7171


def test_data_dir_overrides_the_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path / "state"))
    assert load_settings().state_dir == tmp_path / "state"


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError; the point is "not assignable"
        settings.web_port = 1  # type: ignore[misc]
    assert settings.web_port == 6066


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VIGIL_WEB_PORT", "abc"),
        ("VIGIL_WEB_PORT", "70000"),
        ("VIGIL_WEB_PORT", "0"),
        ("VIGIL_KAFKA_BOOTSTRAP", "nonsense"),
        ("VIGIL_KAFKA_BOOTSTRAP", "kafka:9092,nonsense"),
        ("VIGIL_KAFKA_BOOTSTRAP", ""),
        ("VIGIL_KAFKA_BOOTSTRAP", "kafka://broker:9092"),
        ("VIGIL_BATCH_MAX", "0"),
        ("VIGIL_BATCH_MAX", "-5"),
        ("VIGIL_BATCH_WITHIN_S", "0"),
        ("VIGIL_PARTITIONS", "0"),
        ("VIGIL_KAFKA_SECURITY_PROTOCOL", "TLS"),
        ("VIGIL_PROCESSING_GUARANTEE", "exactly-once"),
        ("VIGIL_PRODUCER_ACKS", "2"),
        ("VIGIL_LOG_LEVEL", "verbose"),
        ("VIGIL_ALERTMANAGER_URL", "am.internal:9093"),
        ("VIGIL_MAX_MESSAGE_BYTES", "10"),
        ("VIGIL_DEMO", "maybe"),
        ("VIGIL_PSEUDONYM_KEY", "short-key"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert name in str(info.value)


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_WEB_PORT", "abc")
    monkeypatch.setenv("VIGIL_BATCH_MAX", "0")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "VIGIL_WEB_PORT" in message and "VIGIL_BATCH_MAX" in message


def test_bootstrap_port_out_of_range_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_KAFKA_BOOTSTRAP", "broker:99999")
    with pytest.raises(ConfigError, match="VIGIL_KAFKA_BOOTSTRAP"):
        load_settings()


def test_a_short_key_is_not_echoed_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_PSEUDONYM_KEY", "tiny-secret")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "tiny-secret" not in str(info.value)


def test_key_length_is_counted_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_PSEUDONYM_KEY", "ключ-ключ")  # 9 characters, 17 bytes
    assert load_settings().pseudonym_key.get_secret_value() == "ключ-ключ"


# --- the published demo key ---------------------------------------------------------------------


def test_default_key_is_refused_outside_demo_mode() -> None:
    settings = load_settings()
    with pytest.raises(ConfigError, match="VIGIL_PSEUDONYM_KEY"):
        settings.require_private_key()


def test_demo_key_set_explicitly_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_PSEUDONYM_KEY", DEMO_PSEUDONYM_KEY)
    with pytest.raises(ConfigError):
        load_settings().require_private_key()


def test_default_key_is_allowed_in_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_DEMO", "1")
    load_settings().require_private_key()


def test_a_private_key_is_allowed_outside_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_PSEUDONYM_KEY", SECRET_KEY)
    load_settings().require_private_key()


def test_secrets_never_appear_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_PSEUDONYM_KEY", SECRET_KEY)
    monkeypatch.setenv("VIGIL_KAFKA_SASL_PASSWORD", "hunter2-sasl-password")
    settings = load_settings()
    for shown in (repr(settings), str(settings), str(settings.model_dump())):
        assert SECRET_KEY not in shown
        assert "hunter2-sasl-password" not in shown
    assert settings.kafka_sasl_password.get_secret_value() == "hunter2-sasl-password"


def test_settings_class_reads_the_environment_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_APP_ID", "from-env")
    assert Settings().app_id == "from-env"
