"""Settings for the counter system: one module, read from the environment.

Defaults serve a laptop (SQLite file, in-memory channel layer, DEBUG on).
Production sets DJANGO_DEBUG=0, DJANGO_SECRET_KEY, DATABASE_URL and REDIS_URL.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", True)

_DEV_SECRET_KEY = "django-insecure-laptop-only-key-never-used-with-debug-off"
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "template_partials",
    "axes",
    "core",
    "agents",
    "float_management",
    "counter",
    "wallet",
    "agencies",
    "reconciliation",
    "settlement",
    "receipts",
    "dashboard",
    "audit",
    # Dev-only: the load-test and benchmark commands (seed_national, bench_*). No product
    # app imports it; installed so that manage.py finds its commands.
    "tools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "agents.middleware.ArabicFirstLocaleMiddleware",
    "config.middleware.RefuseUnusableCharactersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "agents.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "agents.context_processors.scope",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    _db = dj_database_url.parse(DATABASE_URL)
    if _db["ENGINE"] == "django.db.backends.postgresql":
        # Django's psycopg 3 pool keeps connections open across requests, also
        # under ASGI, where CONN_MAX_AGE would leak one connection per thread.
        _db["CONN_MAX_AGE"] = 0
        # With the pool, this makes Django pass ConnectionPool.check_connection: each
        # connection is checked as it leaves the pool, so after a database restart a
        # stale one is replaced instead of failing a request (tests/drills).
        _db["CONN_HEALTH_CHECKS"] = True
        _db.setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1, minimum=0),
            "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10, minimum=1),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10, minimum=1),
        }
        if env_bool("DATABASE_PREPARED", False):
            # Server-side binding: psycopg then prepares a statement on a connection once it
            # has run it a few times (prepare_threshold), saving PostgreSQL the parse and plan
            # of the payment's statements. Measured with the load bench (README, Performance).
            _db["OPTIONS"]["server_side_binding"] = True
            _db["OPTIONS"]["prepare_threshold"] = env_int("DATABASE_PREPARE_THRESHOLD", 5)
    DATABASES = {"default": _db}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("DJANGO_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two writers queue
                # instead of failing with "database is locked" mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not Django's in-memory test database: tests with threads (websocket
            # pushes, concurrent requests) need real connections, not a shared cache.
            # One file per test process, in the temp folder, so parallel runs never share it.
            "TEST": {
                "NAME": env_str(
                    "DJANGO_SQLITE_TEST_PATH",
                    str(Path(tempfile.gettempdir()) / f"counters-test-{os.getpid()}.sqlite3"),
                )
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and channel layer ----------------------------------------

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's RedisCache acting as an empty cache while Redis is unreachable:
            # requests (sessions are in the database) go on without it.
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            # An unreachable host must not hold every request for the OS's TCP timeout.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # Hundreds of dashboards join their groups at once after a restart:
                # the pool must allow that many concurrent commands.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": env_int(
                            "CHANNEL_LAYER_MAX_CONNECTIONS", 2000, minimum=10
                        ),
                        # A consumer waits for messages with BZPOPMIN for 5 s; redis-py 8's
                        # default read timeout is also 5 s, which killed every idle
                        # dashboard socket after 5 s. Longer than the wait, so a silent
                        # Redis still closes the sockets (and the page says "Not live").
                        "socket_timeout": 15,
                        "socket_connect_timeout": 2,
                    }
                ],
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 1000, minimum=1),
                "expiry": env_int("CHANNEL_LAYER_EXPIRY", 10, minimum=1),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Channels has no layer unless one is named: the laptop gets the in-process one.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Authentication and sessions -------------------------------------------

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "agents.backends.ProfileBackend",  # ModelBackend, with the profile in the same query
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# In the database only: a logout or an idle expiry deletes the row, and no cache
# outage can bring a copy back (cached_db trusts a cached copy whose delete was
# lost while Redis was unreachable). One primary-key SELECT per request.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# A working day at most; inactivity logs out much sooner (IdleTimeoutMiddleware).
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_MAX_AGE", 12 * 3600, minimum=60)
SESSION_IDLE_TIMEOUT = env_int("DJANGO_SESSION_IDLE_TIMEOUT", 30 * 60, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
# By username only: a post office's counters share one address behind NAT, so
# locking by IP address would lock a whole office out after one clumsy agent.
AXES_LOCKOUT_PARAMETERS = ["username"]
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The client behind the reverse proxy, not the proxy (TRUSTED_PROXIES below).
AXES_CLIENT_IP_CALLABLE = "agents.addresses.client_ip"

# --- Counter rules ----------------------------------------------------------------

SMS_BACKEND = env_str("SMS_BACKEND", "counter.sms.OutboxBackend")

# --- Outside payment systems (wallet.providers) ---------------------------------------
# The mobile-wallet provider: its HTTP API (the simulator of `make run`, simulators/wallet.py,
# by default), the secret it signs its callbacks with, and who we are to it. The dev secret
# only ever works with DEBUG on, as the secret key does.
WALLET_PROVIDER_BACKEND = env_str("WALLET_PROVIDER_BACKEND", "wallet.providers.HttpWalletProvider")
WALLET_PROVIDER_URL = env_str("WALLET_PROVIDER_URL", "http://127.0.0.1:8701")
WALLET_PROVIDER_SECRET = env_str("WALLET_PROVIDER_SECRET")
if WALLET_PROVIDER_SECRET is None:
    if not DEBUG:
        raise ImproperlyConfigured("WALLET_PROVIDER_SECRET must be set when DJANGO_DEBUG=0")
    WALLET_PROVIDER_SECRET = "wallet-simulator-laptop-only-secret"
WALLET_MERCHANT_ID = env_str("WALLET_MERCHANT_ID", "EGPOST0001")
# Printed in the QR (EMVCo tags 59 and 60): at most 25 and 15 characters.
WALLET_MERCHANT_NAME = env_str("WALLET_MERCHANT_NAME", "EGYPT POST")
WALLET_MERCHANT_CITY = env_str("WALLET_MERCHANT_CITY", "CAIRO")
WALLET_QR_SECONDS = env_int("WALLET_QR_SECONDS", 300, minimum=30)
# The bank cards' acquirer: its daily settlement file (reconciliation).
ACQUIRER_BACKEND = env_str("ACQUIRER_BACKEND", "wallet.providers.HttpAcquirer")
ACQUIRER_URL = env_str("ACQUIRER_URL", "http://127.0.0.1:8702")
# The agencies' own billing systems (agencies.adapters): agency code -> adapter, url, timeouts.
AGENCY_SYSTEMS = json.loads(env_str("AGENCY_SYSTEMS_JSON", "{}"))
# Prepaid service cards, in piastres.
CARD_MAX_BALANCE = env_int("CARD_MAX_BALANCE", 1_000_000, minimum=1)
CARD_DAILY_TOP_UP_LIMIT = env_int("CARD_DAILY_TOP_UP_LIMIT", 500_000, minimum=1)
CARD_PIN_TRIES = env_int("CARD_PIN_TRIES", 3, minimum=1)
# Live dashboard pushes (the tests switch them off except where they test them).
DASHBOARD_PUSHES = env_bool("DASHBOARD_PUSHES", True)
# An open board checks its person again this often (at most), should the message
# closing it have been lost: the longest a deactivated person can keep watching.
DASHBOARD_RECHECK_SECONDS = env_int("DASHBOARD_RECHECK_SECONDS", 60, minimum=1)
# Integrity alerts on the branch and governorate boards: a person is flagged once their
# count today reaches the number (close variances: days of the last seven).
INTEGRITY_ALERT_VOIDS = env_int("INTEGRITY_ALERT_VOIDS", 3, minimum=1)
INTEGRITY_ALERT_CARD_REPLACEMENTS = env_int("INTEGRITY_ALERT_CARD_REPLACEMENTS", 2, minimum=1)
INTEGRITY_ALERT_UNLOCKS = env_int("INTEGRITY_ALERT_UNLOCKS", 2, minimum=1)
INTEGRITY_ALERT_CITIZEN_READS = env_int("INTEGRITY_ALERT_CITIZEN_READS", 40, minimum=1)
INTEGRITY_ALERT_VARIANCE_DAYS = env_int("INTEGRITY_ALERT_VARIANCE_DAYS", 3, minimum=1)
# Public receipt checks per client address and minute (the QR page needs no login).
RECEIPT_VERIFY_PER_MINUTE = env_int("RECEIPT_VERIFY_PER_MINUTE", 30, minimum=1)
# Different citizens' records one agent may open in an hour (counted from the audit log).
CITIZEN_READS_PER_HOUR = env_int("CITIZEN_READS_PER_HOUR", 60, minimum=1)

# --- Security (all on when DEBUG is off; a TLS-terminating proxy is supported) ---

# Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks):
# rate limits, login records and the audit log then see the client, not the proxy.
TRUSTED_PROXIES = env_networks("DJANGO_TRUSTED_PROXIES")
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# A refused form gets a page in the layout that says what to do (and Django's reason).
CSRF_FAILURE_VIEW = "config.views.csrf_failure"

# --- Language and time -------------------------------------------------------

LANGUAGE_CODE = "ar"
LANGUAGES = [("ar", _("Arabic")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
# Fixed, not taken from the environment: a day is a day at the Egyptian counter
# (core.clock), and every "today" in the product is counted in this zone.
TIME_ZONE = "Africa/Cairo"

# --- Static files --------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Logging ---------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
