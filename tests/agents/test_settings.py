import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("Off", False), ("0", False)]
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not expected) is expected


def test_env_bool_refuses_nonsense(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG"):
        env_bool("X_FLAG", False)


def test_unset_and_empty_give_the_default(monkeypatch):
    monkeypatch.delenv("X_UNSET", raising=False)
    monkeypatch.setenv("X_EMPTY", "  ")
    assert env_str("X_UNSET", "d") == "d"
    assert env_int("X_EMPTY", 7) == 7
    assert env_list("X_UNSET", ["a"]) == ["a"]


def test_env_int_refuses_words_and_values_below_the_minimum(monkeypatch):
    monkeypatch.setenv("X_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("X_INT", 5, minimum=1)


def test_env_list_splits_and_refuses_empty_items(monkeypatch):
    monkeypatch.setenv("X_LIST", "a.example, b.example")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
    monkeypatch.setenv("X_LIST", "a,,b")
    with pytest.raises(ImproperlyConfigured):
        env_list("X_LIST", [])


def _settings_in_subprocess(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))
    }
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_defaults_are_sqlite_and_the_in_memory_channel_layer():
    result = _settings_in_subprocess(
        {},
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE']);"
        "print(s.CHANNEL_LAYERS['default']['BACKEND']);print(s.TIME_ZONE)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "channels.layers.InMemoryChannelLayer",
        "Africa/Cairo",
    ]


def test_database_url_and_redis_url_switch_to_postgresql_with_a_pool_and_redis():
    result = _settings_in_subprocess(
        {"DATABASE_URL": "postgres://u@127.0.0.1:5432/x", "REDIS_URL": "redis://127.0.0.1:6379/0"},
        "from django.conf import settings as s;d=s.DATABASES['default'];"
        "print(d['ENGINE'], 'pool' in d['OPTIONS'], d['CONN_MAX_AGE']);"
        "print(s.CHANNEL_LAYERS['default']['BACKEND'])",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "django.db.backends.postgresql True 0",
        "channels_redis.core.RedisChannelLayer",
    ]


def test_a_missing_secret_key_with_debug_off_is_an_error():
    result = _settings_in_subprocess(
        {"DJANGO_DEBUG": "0"}, "from django.conf import settings as s; s.SECRET_KEY"
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_a_bad_boolean_stops_the_start():
    result = _settings_in_subprocess(
        {"DJANGO_DEBUG": "perhaps"}, "from django.conf import settings as s; s.DEBUG"
    )
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr


def test_check_deploy_is_clean_in_production_settings():
    clean_env = {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "a-long-random-production-key-" + "x7Qm2pL9vR4tY8wZ" * 3,
        "DJANGO_ALLOWED_HOSTS": "counters.example",
        "WALLET_PROVIDER_SECRET": "the-secret-the-wallet-provider-signs-with",
    }
    result = _settings_in_subprocess(
        clean_env,
        "import django, sys; django.setup();"
        "from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='WARNING')",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
