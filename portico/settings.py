"""Portico settings. Everything that differs between machines comes from the environment (see README)."""

import base64
import hashlib
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_noop

from portico.env import env_bool, env_int, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTICO_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
TESTING = "pytest" in sys.modules

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY is not set (it is required when DEBUG is off)")
    SECRET_KEY = "insecure-dev-only-key-do-not-use-in-production"  # noqa: S105 (DEBUG and tests only)
# Earlier keys, still accepted while what they signed runs out (sessions, password-reset links, the
# short codes of access.tokens): rotating SECRET_KEY then signs nobody out and voids no printed letter.
SECRET_KEY_FALLBACKS = [key.strip() for key in env_str("SECRET_KEY_FALLBACKS").split(",") if key.strip()]


def _field_keys() -> list[str]:
    """Fernet keys for encrypted fields, newest first; older keys still decrypt (rotation)."""
    raw = env_str("PORTICO_FIELD_KEYS")
    if not raw:
        if not (DEBUG or TESTING):
            raise ImproperlyConfigured("PORTICO_FIELD_KEYS is not set (it is required when DEBUG is off)")
        return [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()]
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                "PORTICO_FIELD_KEYS must be comma-separated Fernet keys "
                "(make one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            ) from None
    return keys


PORTICO_FIELD_KEYS = _field_keys()


def _history_keys() -> dict[str, str]:
    """Keys sealing the access history (HMAC-SHA256), {key id: secret}, newest first. Kept outside the
    database, so someone who can only write to the database cannot re-seal an edited history."""
    raw = env_str("PORTICO_HISTORY_KEYS")
    if not raw:
        if not (DEBUG or TESTING):
            raise ImproperlyConfigured("PORTICO_HISTORY_KEYS is not set (it is required when DEBUG is off)")
        return {"dev": hashlib.sha256(b"portico history key " + SECRET_KEY.encode()).hexdigest()}
    keys = {}
    for pair in raw.split(","):
        key_id, _, secret = pair.strip().partition(":")
        valid_id = key_id.isascii() and key_id.replace("-", "").replace("_", "").isalnum() and len(key_id) <= 16
        if not (valid_id and len(secret) >= 32 and key_id not in keys):
            raise ImproperlyConfigured(
                "PORTICO_HISTORY_KEYS must be comma-separated id:secret pairs, newest first (ids: up to 16 "
                "letters, digits, - or _, each used once; secrets: 32+ characters, e.g. from "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        keys[key_id] = secret
    return keys


PORTICO_HISTORY_KEYS = _history_keys()
PORTICO_BASE_URL = env_url("PORTICO_BASE_URL", "http://127.0.0.1:8000")
# The invitation lifetime a new practice starts with; each practice then sets its own (Settings page).
PORTICO_INVITE_TTL_DAYS = env_int("PORTICO_INVITE_TTL_DAYS", 7, minimum=1, maximum=30)
# Behind a reverse proxy: the request header holding the client's address (e.g. X-Real-IP), used
# for the audit trail and for throttling. Empty: the connection's own address (REMOTE_ADDR).
PORTICO_CLIENT_IP_HEADER = env_str("PORTICO_CLIENT_IP_HEADER")
# A worker that dies mid-send leaves its message claimed; after this long another may take it over.
PORTICO_MAIL_LEASE_SECONDS = env_int("PORTICO_MAIL_LEASE_SECONDS", 300, minimum=1)
PORTICO_MAIL_FROM = env_str("PORTICO_MAIL_FROM", "Portico <no-reply@portico.localhost>")
# The REST API (api/): requests per token per minute, and the largest request body.
PORTICO_API_RATE_LIMIT = env_int("PORTICO_API_RATE_LIMIT", 120, minimum=1)
PORTICO_API_MAX_BODY_BYTES = env_int("PORTICO_API_MAX_BODY_BYTES", 65536, minimum=1024)
# Webhooks to loopback, private, link-local and other internal addresses: development and tests only
# (api.webhooks.public_addresses says why they are refused).
PORTICO_WEBHOOKS_ALLOW_PRIVATE = env_bool("PORTICO_WEBHOOKS_ALLOW_PRIVATE", False)
# Plain http to a loopback webhook receiver outside DEBUG (tests); https is required otherwise.
PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP = env_bool("PORTICO_WEBHOOKS_ALLOW_LOOPBACK_HTTP", False)
# Where `manage.py smtpd` keeps caught mail for the staff Mailbox page (development only).
PORTICO_MAILBOX_DIR = VAR_DIR / "mailbox"
# `manage.py serve` (production): where gunicorn listens, its processes, and task workers.
PORTICO_BIND = env_str("PORTICO_BIND", "127.0.0.1:8000")
PORTICO_WEB_WORKERS = env_int("PORTICO_WEB_WORKERS", 3, minimum=1)
PORTICO_WORKERS = env_int("PORTICO_WORKERS", 1, minimum=1)
# Several nodes (README "Scaling out"): how often each node's run_periodic does its round, and how long a
# bulk job's chunks may stand still before a round takes its worker (its node) for dead and queues it again.
PORTICO_PERIODIC_SECONDS = env_int("PORTICO_PERIODIC_SECONDS", 60, minimum=1)
PORTICO_JOB_STALLED_SECONDS = env_int("PORTICO_JOB_STALLED_SECONDS", 120, minimum=5)

ALLOWED_HOSTS = [h.strip() for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()]

INSTALLED_APPS = [
    "portico.apps.OperatorAdminConfig",  # django.contrib.admin, for operators only (portico/admin.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "django_htmx",
    "clinic",
    "access",
    "mail",
    "portal",
    "ops",
    "api",
    "sms",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves collected static files (hashed names, compressed, cached for a year) before any other work.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portico.sessions.RefreshSessionExpiry",  # the idle sign-out's clock (SESSION_COOKIE_AGE below)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.language.PatientLanguageMiddleware",  # patient pages in the patient's language (see below)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "access.middleware.RecordOtherPracticeProbes",
]

ROOT_URLCONF = "portico.urls"
WSGI_APPLICATION = "portico.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict:
    default = f"sqlite:///{VAR_DIR / 'portico.sqlite3'}"
    if "DATABASE_URL" not in os.environ:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        config = dj_database_url.parse(env_str("DATABASE_URL", default), conn_max_age=60)
    except ValueError as e:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL we understand ({e})") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue instead of
        # failing half-way; the hash chain of the access history depends on that order.
        # WAL: readers (pages, the mail workers' claims) no longer wait for a writer, nor it for them.
        config["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20,
                             "init_command": "PRAGMA journal_mode=WAL"}
        config["CONN_MAX_AGE"] = 0
        # Tests use a file, not shared-cache memory, so concurrency tests see real SQLite locking;
        # the pid keeps parallel test runs apart.
        config["TEST"] = {"NAME": str(VAR_DIR / f"test-portico-{os.getpid()}.sqlite3")}
    else:
        _postgres_connections(config)
    return config


def _postgres_connections(config: dict) -> None:
    """How each process reaches PostgreSQL (README "Scaling out"). By default a persistent connection
    per process (CONN_MAX_AGE 60). PORTICO_DB_POOL_SIZE=N: Django's own pool (psycopg_pool), at most N
    connections per process, instead (Django refuses a pool with persistent connections).
    PORTICO_DB_PGBOUNCER=on: DATABASE_URL is PgBouncer in transaction mode, where a connection is
    lent for one transaction only, so no server-side cursor may outlive one (QuerySet.iterator()
    outside a transaction would)."""
    if pool_size := env_int("PORTICO_DB_POOL_SIZE", 0, minimum=0, maximum=100):
        config["CONN_MAX_AGE"] = 0
        config.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": pool_size, "timeout": 10}
    if env_bool("PORTICO_DB_PGBOUNCER", False):
        config["DISABLE_SERVER_SIDE_CURSORS"] = True


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "emails"],
    }
}

# Mail: Django 6.1's MAILERS replaces the EMAIL_* settings; we keep the familiar variable names.
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": env_str("EMAIL_HOST", "127.0.0.1"),
            "port": env_int("EMAIL_PORT", 8025, minimum=1, maximum=65535),
            "username": env_str("EMAIL_HOST_USER"),
            "password": env_str("EMAIL_HOST_PASSWORD"),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
            "timeout": env_int("EMAIL_TIMEOUT", 20, minimum=1),
        },
    }
}
DEFAULT_FROM_EMAIL = PORTICO_MAIL_FROM

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# A patient's password-reset link works for an hour (Django's default is 3 days), and once.
PASSWORD_RESET_TIMEOUT = 60 * 60

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "clinic:home"
LOGOUT_REDIRECT_URL = "login"

# HIPAA automatic logoff: a session dies after 30 idle minutes. Its expiry is pushed back at most once
# a minute (portico.sessions.RefreshSessionExpiry, not SESSION_SAVE_EVERY_REQUEST: no write per page
# view), so it dies 29 to 30 minutes after the last request, never later.
SESSION_COOKIE_AGE = 30 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PORTICO_BASE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Portico never terminates TLS itself, so an https base URL means a TLS-terminating proxy in front.
# That proxy must set X-Forwarded-Proto on every request (overwriting what a client sent); only then
# may Django believe it. Form posts then pass the CSRF origin check, plain http is redirected, and
# browsers are told to use https only (HSTS) for PORTICO_HSTS_SECONDS.
if SESSION_COOKIE_SECURE:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^health/(workers/)?$"]  # load balancers and monitors probe gunicorn over http
    SECURE_HSTS_SECONDS = env_int("PORTICO_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# HSTS preloading commits the whole registered domain, subdomains included, to https in browsers'
# built-in lists; only the domain's owner can decide that, so it stays off (Django's default).
SILENCED_SYSTEM_CHECKS = ["security.W021"]
_BASE = urlsplit(PORTICO_BASE_URL)
CSRF_TRUSTED_ORIGINS = [f"{_BASE.scheme}://{_BASE.netloc}"]
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True

# --- Languages (docs/languages.md) ---
# What patients may read Portico in: their pages and emails. Staff pages stay in English for now.
# Catalogs are each app's locale/<code>/LC_MESSAGES/django.po, compiled .mo committed beside them
# (portal/tests/test_translations.py fails when one is stale). The chosen language comes from
# portal.language.PatientLanguageMiddleware, never from Django's LocaleMiddleware (which would turn
# staff pages into the browser's language too).
# Names marked (gettext_noop: settings cannot translate) so that a page in Spanish says "español".
LANGUAGES = [("en", gettext_noop("English")), ("es", gettext_noop("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]  # the shared templates/ and portico/; each app keeps its own locale/
LANGUAGE_COOKIE_NAME = "portico_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
# --- end of languages ---
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # collectstatic fills it; WhiteNoise warns at start if missing
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed copies made by collectstatic (`manage.py serve` runs it); WhiteNoise serves the
# hashed names with a far-future max-age. Tests render pages without collecting, so plain names there.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if TESTING
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Error pages (DEBUG) and reports mask sensitive POST fields and show no frame variables.
DEFAULT_EXCEPTION_REPORTER_FILTER = "portico.errors.PersonalDataFilter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "portico": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
        # The dev server logs request paths; invitation links never carry a token past the
        # landing redirect, and the landing path itself is masked by portico.logging.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False,
                          "filters": ["redact_tokens"]},
        # Every unhandled error (500) with its traceback. The record carries no request data, and
        # error pages show none either (portico.errors.PersonalDataFilter).
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False,
                           "filters": ["redact_tokens"]},
    },
    "filters": {"redact_tokens": {"()": "portico.logging.RedactTokens"}},
}

# The staff "Mailbox" page shows mail caught by `manage.py smtpd`; for development only.
PORTICO_MAILBOX_ENABLED = env_bool("PORTICO_MAILBOX", DEBUG)
TEMPLATES[0]["OPTIONS"]["context_processors"].append("portico.context.portico")

# --- Texts (SMS), through a Twilio-compatible Messages API (sms/). Without the sid, token and sender,
# Portico sends no texts and its pages say so. PORTICO_SMS_FROM: an E.164 number or a Messaging
# Service sid ("MG..."). The auth token also checks the provider's callbacks (X-Twilio-Signature).
PORTICO_SMS_URL = env_url("PORTICO_SMS_URL", "https://api.twilio.com")
PORTICO_SMS_ACCOUNT_SID = env_str("PORTICO_SMS_ACCOUNT_SID")
PORTICO_SMS_AUTH_TOKEN = env_str("PORTICO_SMS_AUTH_TOKEN")
PORTICO_SMS_FROM = env_str("PORTICO_SMS_FROM")
PORTICO_SMS_LEASE_SECONDS = env_int("PORTICO_SMS_LEASE_SECONDS", 300, minimum=1)
# Where `manage.py sms_standin` keeps the texts it took, for the staff Phone page (development only).
PORTICO_PHONE_LOG = VAR_DIR / "phone" / "texts.jsonl"
