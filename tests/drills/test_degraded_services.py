"""What the drills found, pinned by fast ordinary tests (no drill services needed).

Redis down must not fail requests (the cache acts as an empty one), an idle
dashboard socket must outlive the channel layer's 5 s wait, and pooled
PostgreSQL connections are checked as they leave the pool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.cache import caches
from django.test import override_settings

from config.cache import ResilientRedisCache
from tests.drills.services import ROOT, free_port


def unreachable_cache() -> ResilientRedisCache:
    # A free port nobody listens on: every command is refused.
    return ResilientRedisCache(
        f"redis://127.0.0.1:{free_port()}/0", {"OPTIONS": {"socket_connect_timeout": 1}}
    )


def test_an_unreachable_cache_answers_like_an_empty_one():
    cache = unreachable_cache()
    assert cache.get("k", "default") == "default"
    assert cache.get_many(["k"]) == {}
    assert cache.has_key("k") is False
    cache.set("k", 1)
    assert cache.add("k", 1) is True
    assert cache.delete("k") is False
    assert cache.touch("k") is False
    assert cache.set_many({"k": 1}) == []
    cache.delete_many(["k"])
    with pytest.raises(ValueError):
        cache.incr("k")


@pytest.mark.django_db
def test_a_logged_in_agent_takes_a_page_while_redis_is_unreachable(client, agent_a):
    unreachable = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    with override_settings(
        CACHES=unreachable, SESSION_ENGINE="django.contrib.sessions.backends.cached_db"
    ):
        client.force_login(agent_a)
        # cached_db re-caches the session it read from the database: that write
        # failing used to turn every request into a 500.
        response = client.get("/float/session/")
        assert response.status_code == 200
        assert isinstance(caches["default"], ResilientRedisCache)


def _production_settings() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(
        DATABASE_URL="postgres://postgres@127.0.0.1:1/none",
        REDIS_URL="redis://127.0.0.1:1/0",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'layer': s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0],"
        "'cache': s.CACHES['default'],"
        "'health_checks': s.DATABASES['default']['CONN_HEALTH_CHECKS']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


def test_an_idle_dashboard_socket_outlives_the_channel_layers_wait():
    from channels_redis.core import RedisChannelLayer

    layer_host = _production_settings()["layer"]
    # redis-py 8 reads with a 5 s timeout by default, exactly the layer's BZPOPMIN wait.
    assert layer_host["socket_timeout"] > RedisChannelLayer.brpop_timeout


def test_redis_and_postgres_connections_are_checked_and_time_out():
    configured = _production_settings()
    assert configured["cache"]["BACKEND"] == "config.cache.ResilientRedisCache"
    assert configured["cache"]["OPTIONS"]["socket_connect_timeout"] <= 2
    assert configured["health_checks"] is True
