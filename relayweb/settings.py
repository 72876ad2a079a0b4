"""Relay's one settings file: every deployment-specific value comes from the environment.

See docs/configuration.md for each variable; .env.example lists them with their defaults.
"""

import os
from pathlib import Path

import dj_database_url

from relayweb import queues
from relayweb.env import env_bool, env_int, env_list, env_url, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
RELAY_DATA_DIR = Path(os.environ.get("RELAY_DATA_DIR", BASE_DIR / "var")).resolve()
# Never a public default: set in production, generated once into RELAY_DATA_DIR in development.
SECRET_KEY = secret_key(RELAY_DATA_DIR, DEBUG)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

RELAY_MAX_UPLOAD_MB = env_int("RELAY_MAX_UPLOAD_MB", 500)
RELAY_MAX_UPLOAD_BYTES = RELAY_MAX_UPLOAD_MB * 1024 * 1024
RELAY_UPLOAD_URL_EXPIRES = env_int("RELAY_UPLOAD_URL_EXPIRES", 3600)
# Public base URL used in signed upload URLs when requests arrive through a proxy.
RELAY_PUBLIC_URL = os.environ.get("RELAY_PUBLIC_URL", "").rstrip("/")
RELAY_INGEST_TIMEOUT = env_int("RELAY_INGEST_TIMEOUT", 3600)
RELAY_INGEST_WORKERS = env_int("RELAY_INGEST_WORKERS", 2)
# The queues, each a django-q2 cluster of its own (relayweb/queues.py).
RELAY_INGEST_QUEUE, RELAY_TRAINING_QUEUE, RELAY_INFERENCE_QUEUE = queues.QUEUES
RELAY_TRAINING_TIMEOUT = env_int("RELAY_TRAINING_TIMEOUT", 6 * 3600)
RELAY_INFERENCE_TIMEOUT = env_int("RELAY_INFERENCE_TIMEOUT", 6 * 3600)
# The job lifecycle (relayweb/jobs.py): a running worker beats every RELAY_HEARTBEAT_S; one silent
# for RELAY_JOB_STALE_S is presumed dead, and its work is requeued until RELAY_JOB_MAX_ATTEMPTS claims.
RELAY_HEARTBEAT_S = env_int("RELAY_HEARTBEAT_S", 5)
RELAY_JOB_STALE_S = env_int("RELAY_JOB_STALE_S", 30)
# A queued unit that waited this long while its cluster's queue is empty lost its task: sent again.
RELAY_JOB_LOST_S = env_int("RELAY_JOB_LOST_S", 120, minimum=1)
RELAY_JOB_MAX_ATTEMPTS = env_int("RELAY_JOB_MAX_ATTEMPTS", 2)
if not 1 <= RELAY_HEARTBEAT_S < RELAY_JOB_STALE_S:
    raise RuntimeError("RELAY_HEARTBEAT_S must be at least 1 and below RELAY_JOB_STALE_S")
# Upload temporary files untouched this long belong to a dead request and are removed.
RELAY_TEMP_FILE_MAX_AGE_S = env_int("RELAY_TEMP_FILE_MAX_AGE_S", 3600)
# Longest audio accepted (checked from the header before decoding, and again while decoding).
RELAY_MAX_AUDIO_DURATION_S = env_int("RELAY_MAX_AUDIO_DURATION_S", 6 * 3600)
RELAY_MIN_TRAINING_AUDIO_S = env_int("RELAY_MIN_TRAINING_AUDIO_S", 300)
# The built-in models' weights and cards (training/builtin.py), shipped in the repository.
RELAY_BUILTIN_MODELS_DIR = Path(
    os.environ.get("RELAY_BUILTIN_MODELS_DIR") or BASE_DIR / "relayml" / "builtin"
)
# A django-q2 cluster told to stop lets running tasks finish this long, then kills its workers.
RELAY_STOP_GRACE_S = env_int("RELAY_STOP_GRACE_S", 6, minimum=0)
# Webhooks (relayweb/webhooks.py): a failed delivery is retried after RELAY_WEBHOOK_BACKOFF_S,
# doubling up to RELAY_WEBHOOK_MAX_BACKOFF_S, until RELAY_WEBHOOK_RETRY_WINDOW_S (at least a day by
# default) has passed; then it is given up. URLs on private or loopback addresses, or on this server,
# are refused unless RELAY_WEBHOOK_ALLOW_PRIVATE (a receiver on the same network, or tests).
RELAY_WEBHOOK_BACKOFF_S = env_int("RELAY_WEBHOOK_BACKOFF_S", 60, minimum=1)
RELAY_WEBHOOK_MAX_BACKOFF_S = env_int("RELAY_WEBHOOK_MAX_BACKOFF_S", 3600, minimum=1)
RELAY_WEBHOOK_RETRY_WINDOW_S = env_int("RELAY_WEBHOOK_RETRY_WINDOW_S", 25 * 3600, minimum=1)
RELAY_WEBHOOK_TIMEOUT_S = env_int("RELAY_WEBHOOK_TIMEOUT_S", 10, minimum=1)
RELAY_WEBHOOK_ALLOW_PRIVATE = env_bool("RELAY_WEBHOOK_ALLOW_PRIVATE", False)
# Failed sign-ins allowed per username and address within the window before the form says to wait.
RELAY_LOGIN_ATTEMPTS = env_int("RELAY_LOGIN_ATTEMPTS", 5, minimum=1)
RELAY_LOGIN_WINDOW_S = env_int("RELAY_LOGIN_WINDOW_S", 900, minimum=1)

MEDIA_ROOT = Path(os.environ.get("RELAY_MEDIA_ROOT") or RELAY_DATA_DIR / "media")
# Production's shape (docs/deployment.md): Redis as the broker, an S3-compatible bucket for every
# stored file (relayweb/storage.py). Unset, the embedded defaults: the database broker, MEDIA_ROOT.
RELAY_BROKER_URL = env_url("RELAY_BROKER_URL", ("redis", "rediss", "unix"))
RELAY_STORAGE_URL = env_url("RELAY_STORAGE_URL", ("s3",), needs_host=True)
RELAY_S3_ENDPOINT_URL = env_url("RELAY_S3_ENDPOINT_URL", ("http", "https"), needs_host=True)
RELAY_S3_REGION = os.environ.get("RELAY_S3_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
# Workers and the web server keep local copies of objects they read as files (models, features).
RELAY_S3_CACHE_MB = env_int("RELAY_S3_CACHE_MB", 2048, minimum=1)
# /metrics (relayweb/metrics.py) asks for `Authorization: Bearer <token>` when this is set.
RELAY_METRICS_TOKEN = os.environ.get("RELAY_METRICS_TOKEN", "")
# Files an inference task claims at once: a small batch lets several workers share one job's files.
RELAY_INFERENCE_CLAIM = env_int("RELAY_INFERENCE_CLAIM", 16, minimum=1)
# Torch threads per inference task; 0: every core. Several inference workers on one machine split
# the cores between them (bench/scale.py).
RELAY_INFERENCE_THREADS = env_int("RELAY_INFERENCE_THREADS", 0, minimum=0)
# Created up front so a bare checkout runs: SQLite, uploads and media all live here.
for _folder in (RELAY_DATA_DIR, MEDIA_ROOT, RELAY_DATA_DIR / "tmp", RELAY_DATA_DIR / "staticfiles"):
    _folder.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Before django_q: its `qcluster` command replaces django-q2's (it stops within seconds).
    "relayweb",
    "django_q",
    "datasets",
    "training",
    "inference",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves static files in every mode, so `make run` needs no separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "relayweb.teams.CurrentTeamMiddleware",
]

ROOT_URLCONF = "relayweb.urls"
WSGI_APPLICATION = "relayweb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "relayweb.teams.team_context",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{RELAY_DATA_DIR / 'relay.sqlite3'}"),
        # Kept open between requests (a new connection per request costs more than most queries);
        # checked before reuse, so a database restart costs one failed check, not a 500.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server's threads and the workers write at once. Write-ahead logging lets readers run
    # beside the writer; IMMEDIATE transactions take the write lock when they begin, so a transaction
    # never fails half-way upgrading a read lock (that fails at once, without waiting); the busy
    # timeout makes writers queue for the lock instead of answering "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": env_int("RELAY_SQLITE_TIMEOUT", 30, minimum=1),
        }
    )
    # Tests with a real worker process need a file, not an in-memory database.
    DATABASES["default"]["TEST"] = {"NAME": str(RELAY_DATA_DIR / "test-relay.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Throttles failed sign-ins on every sign-in form (relayweb/login.py).
AUTHENTICATION_BACKENDS = ["relayweb.login.ThrottledModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "datasets:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = RELAY_DATA_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = DEBUG

# Uploads stream to a temporary file after 2.5 MB; the size cap is enforced while streaming.
FILE_UPLOAD_HANDLERS = ["datasets.uploads.LimitedTemporaryFileUploadHandler"]
# On the same file system as MEDIA_ROOT, so a finished upload is renamed into place, not copied.
FILE_UPLOAD_TEMP_DIR = os.environ.get("RELAY_UPLOAD_TEMP_DIR") or str(RELAY_DATA_DIR / "tmp")
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("RELAY_MAX_FILES_PER_REQUEST", 100)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "relayweb.auth.ApiKeyAuthentication",
        "relayweb.auth.TeamSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["relayweb.auth.TeamRolePermission"],
    "DEFAULT_PARSER_CLASSES": [
        # Bounded size and nesting, finite numbers: see relayweb/parsers.py.
        "relayweb.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "relayweb.parsers.FormParser",
    ],
    # orjson: see relayweb/serializers.py.
    "DEFAULT_RENDERER_CLASSES": [
        "relayweb.serializers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "relayweb.pagination.PagePagination",
    "EXCEPTION_HANDLER": "relayweb.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "relayweb.schema.RelayAutoSchema",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["relayweb.auth.TeamRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"team": os.environ.get("RELAY_API_RATE", "6000/min")},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Relay API",
    "DESCRIPTION": "Find artifacts in voice-AI audio. Authenticate with the X-API-Key header.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["relayweb.schema.drop_slash_variants"],
    # One name per status enum, used by the fields and the `status` query parameters alike.
    "ENUM_NAME_OVERRIDES": {
        "ProcessingStatusEnum": "datasets.models.ProcessingStatus",
        "SetStatusEnum": "datasets.models.SetStatus",
        "TrainingStatusEnum": "training.models.TrainingStatus",
        "InferenceJobStatusEnum": "inference.models.JobStatus",
        "InferenceFileStatusEnum": "inference.models.FileStatus",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "relayweb.schema.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

Q_CLUSTER = {
    "name": RELAY_INGEST_QUEUE,
    **({"redis": RELAY_BROKER_URL} if RELAY_BROKER_URL else {"orm": "default"}),
    "workers": RELAY_INGEST_WORKERS,
    "timeout": RELAY_INGEST_TIMEOUT,
    # retry must exceed timeout; max_attempts=1: a failed ingest is reported, never re-run blindly.
    "retry": RELAY_INGEST_TIMEOUT + 60,
    "max_attempts": 1,
    "recycle": 50,
    "catch_up": False,
    "save_limit": 1000,
    "poll": 0.5,
    "sync": env_bool("RELAY_TASKS_SYNC", False),
    # The GPU queues: `Q_CLUSTER_NAME=training manage.py qcluster` (or inference). One worker each, a
    # fresh process for every task (CUDA state never leaks between jobs), no retries, long timeouts.
    "ALT_CLUSTERS": {
        name: {"workers": 1, "recycle": 1, "timeout": timeout, "retry": timeout + 60, "max_attempts": 1}
        for name, timeout in (
            (RELAY_TRAINING_QUEUE, RELAY_TRAINING_TIMEOUT),
            (RELAY_INFERENCE_QUEUE, RELAY_INFERENCE_TIMEOUT),
        )
    },
}

CACHES = {
    # Per process: the API's rate counters, read and written on every request.
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Shared by every process on the machine (gunicorn's workers): failed sign-in counts.
    "shared": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(RELAY_DATA_DIR / "cache"),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("RELAY_BEHIND_PROXY", False) else None
)
