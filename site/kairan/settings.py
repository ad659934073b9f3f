"""Kairan settings, read from the environment (see ``.env.example``).

Every value that differs between a laptop demo and a city's production server
comes from an environment variable through the typed readers in
``kairan.env``; a bad value stops start-up with a message naming it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from kairan import __version__
from kairan.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
)

PROJECT_DIR = Path(__file__).resolve().parent
BASE_DIR = PROJECT_DIR.parent.parent
VAR_DIR = Path(env_str("KAIRAN_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

KAIRAN_VERSION = __version__

# --- Modes -------------------------------------------------------------------
# KAIRAN_DEMO=1 is the laptop demo started by `make run` (and the test suite):
# it allows the demo secret key, local hosts and plain-HTTP cookies. Without it
# the settings are production settings and refuse unsafe values.
KAIRAN_DEMO = env_bool("KAIRAN_DEMO", False)
DEBUG = env_bool("KAIRAN_DEBUG", False)

DEMO_SECRET_KEY = "kairan-demo-secret-key-do-not-use-in-production"  # noqa: S105 - refused outside the demo
SECRET_KEY = env_str("KAIRAN_SECRET_KEY", DEMO_SECRET_KEY if KAIRAN_DEMO else None)
ALLOWED_HOSTS = env_list("KAIRAN_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if KAIRAN_DEMO else [])
CSRF_TRUSTED_ORIGINS = env_list("KAIRAN_CSRF_TRUSTED_ORIGINS", [])

# Keys for field encryption (AES-256-GCM) of personal data and secrets (kairan.core.crypto):
# url-safe base64 of 32 random bytes, comma-separated; the first encrypts, the others still
# decrypt (rotation: put a new key first, run `manage.py rotate_field_keys`, then drop the old
# key). The demo uses a fixed key.
DEMO_FIELD_KEY = "a2FpcmFuLWRlbW8tZmllbGQta2V5LW5vdC1zZWNyZXQ="
# Key of the blind index of resident attributes (residents.attributes: HMAC tokens that segments
# match on without plaintext). Empty: derived from SECRET_KEY; changing it needs reindex_all().
KAIRAN_INDEX_KEY = env_str("KAIRAN_INDEX_KEY", "")
KAIRAN_FIELD_KEYS = env_list("KAIRAN_FIELD_KEYS", [DEMO_FIELD_KEY] if KAIRAN_DEMO else [])

if not KAIRAN_DEMO:
    if not KAIRAN_FIELD_KEYS or DEMO_FIELD_KEY in KAIRAN_FIELD_KEYS:
        raise ImproperlyConfigured(
            "KAIRAN_FIELD_KEYS must hold at least one key (url-safe base64 of 32 random bytes) in "
            "production (the demo key is refused). Make one with: python -c "
            '"import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
        )
    if SECRET_KEY == DEMO_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "KAIRAN_SECRET_KEY must be a random value of at least 32 characters in production "
            "(the demo key is refused; set KAIRAN_DEMO=1 only for a local demo)."
        )
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "KAIRAN_ALLOWED_HOSTS must list this server's host names in production ('*' is refused)."
        )

# --- Applications ------------------------------------------------------------
INSTALLED_APPS = [
    "kairan.core",
    "kairan.staff",
    "kairan.oplog",
    "kairan.manual",
    "home",
    "residents",  # 受信設定 (resident attributes)
    "deliveries",  # 配信: audiences (segments), deliveries, history
    "richmenus",  # リッチメニュー: menu sets with tabs, publishing, emergency mode
    "chatbot",  # チャットボット: answer pages, keywords, conversations, 未回答の質問
    "scraper",  # ホームページ取り込み: the city's website as chatbot answers
    "search",
    "line_channel",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.sites",
    "kairan.staff.apps.KairanUsersAppConfig",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "wagtail_modeladmin",
    "modelcluster",
    "taggit",
    "django_filters",
    "django_q",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.forms",
]

MIDDLEWARE = [
    "kairan.core.middleware.MachineEndpointMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "kairan.core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "kairan.oplog.middleware.OperationContextMiddleware",
    "kairan.staff.middleware.StaffSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kairan.urls"
# Widgets render through TEMPLATES, so our overrides in site/kairan/templates
# (CSP-safe date pickers and inline panels) apply to form widgets too.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
WSGI_APPLICATION = "kairan.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PROJECT_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kairan.core.context_processors.kairan",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------
# SQLite is the embedded default: WAL lets readers work beside one writer,
# busy_timeout makes a writer wait instead of failing, and IMMEDIATE
# transactions take the write lock at BEGIN so two writers never deadlock on a
# lock upgrade. DATABASE_URL switches to PostgreSQL for cities that scale out.
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    SQLITE_PATH = Path(env_str("KAIRAN_SQLITE_PATH", str(VAR_DIR / "kairan.sqlite3")))
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            # Keep each thread's connection: opening one runs the PRAGMAs, and closing the last
            # one checkpoints the WAL, which cost several milliseconds per request.
            "CONN_MAX_AGE": 60,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": env_int("KAIRAN_SQLITE_BUSY_TIMEOUT", 20, minimum=1),
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One cache shared by every process (web workers and Django-Q clusters).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "kairan_cache",
    }
}

# --- Django-Q (background and scheduled work) --------------------------------
Q_CLUSTER = {
    "name": "kairan",
    "orm": "default",
    "workers": env_int("KAIRAN_Q_WORKERS", 2, minimum=1),
    "timeout": env_int("KAIRAN_Q_TIMEOUT", 300, minimum=10),
    "retry": env_int("KAIRAN_Q_TIMEOUT", 300, minimum=10) + 60,
    "max_attempts": 3,
    "catch_up": False,
    # An idle cluster looks for tasks 20 times a second (the ORM broker's default is 5): a chain
    # of tasks (dispatch → fan-out → senders) starts sending a fraction of a second sooner.
    "poll": 0.05,
    "save_limit": 1000,
    "label": "Django-Q",
}

# --- Authentication and sessions ---------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("KAIRAN_PASSWORD_MIN_LENGTH", 12, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "kairan.staff.passwords.CharacterClassValidator"},
]
LOGIN_URL = "wagtailadmin_login"

# Idle staff sessions end after this many minutes without a request made by the
# person (background polling does not count); the cookie itself lasts a day.
KAIRAN_IDLE_TIMEOUT_MINUTES = env_int("KAIRAN_IDLE_TIMEOUT_MINUTES", 30, minimum=1)
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("KAIRAN_SECURE_COOKIES", not KAIRAN_DEMO)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Lockout after repeated failed logins (django-axes): per user name and address.
AXES_FAILURE_LIMIT = env_int("KAIRAN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("KAIRAN_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "staff/lockout.html"
AXES_CLIENT_IP_CALLABLE = "kairan.core.net.client_ip"
AXES_VERBOSE = False

# TOTP two-factor authentication (django-otp).
OTP_TOTP_ISSUER = env_str("KAIRAN_OTP_ISSUER", "Kairan")
OTP_TOTP_THROTTLE_FACTOR = 1

# Addresses of reverse proxies in front of the web server that may set
# X-Forwarded-For; the client address is taken from that header only behind them.
KAIRAN_TRUSTED_PROXY_COUNT = env_int("KAIRAN_TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- Security headers ---------------------------------------------------------
KAIRAN_BEHIND_TLS_PROXY = env_bool("KAIRAN_BEHIND_TLS_PROXY", False)
if KAIRAN_BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("KAIRAN_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Django sends HSTS only on HTTPS responses, so this is safe on a plain-HTTP demo.
SECURE_HSTS_SECONDS = env_int("KAIRAN_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("KAIRAN_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "SAMEORIGIN"  # Wagtail's preview panel frames our own pages.
KAIRAN_CSP = env_str(
    "KAIRAN_CSP",
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'self'; "
    "object-src 'none'",
)

# --- Internationalisation ------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語")]
WAGTAILADMIN_PERMITTED_LANGUAGES = [("ja", "日本語")]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [PROJECT_DIR / "locale"]

# --- Static and media files ----------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise expects it even before the first collectstatic
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = KAIRAN_DEMO or DEBUG
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# --- Wagtail -------------------------------------------------------------------
KAIRAN_CITY_NAME = env_str("KAIRAN_CITY_NAME", "大船渡市")
KAIRAN_CITY_LOGO_URL = env_str("KAIRAN_CITY_LOGO_URL", "")  # default: our own mark in static
WAGTAIL_SITE_NAME = f"{KAIRAN_CITY_NAME} Kairan"
WAGTAILADMIN_BASE_URL = env_str("KAIRAN_BASE_URL", "http://127.0.0.1:8000")
# Search: our Japanese BM25 backend on the database (search/backend.py; `manage.py update_index`
# indexes existing content). KAIRAN_SEARCH_URL (an Elasticsearch 8 or OpenSearch URL; OpenSearch
# with KAIRAN_SEARCH_ENGINE=opensearch2|opensearch3) switches to Wagtail's backend for it with a
# kuromoji analyzer (search/elastic.py).
KAIRAN_SEARCH_URL = env_str("KAIRAN_SEARCH_URL", "")
WAGTAILSEARCH_BACKENDS = {
    "default": {
        "BACKEND": "search.elastic",
        "URLS": [KAIRAN_SEARCH_URL],
        "ENGINE": env_choice(
            "KAIRAN_SEARCH_ENGINE", "elasticsearch8", ("elasticsearch8", "opensearch2", "opensearch3")
        ),
    }
    if KAIRAN_SEARCH_URL
    else {"BACKEND": "search.backend"}
}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "odt", "pdf", "pptx", "txt", "xlsx", "zip"]
WAGTAILDOCS_MAX_UPLOAD_SIZE = 10 * 1024 * 1024
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_GRAVATAR_PROVIDER_URL = None  # no requests to outside services from the admin
WAGTAIL_ENABLE_WHATS_NEW_BANNER = False
WAGTAIL_PASSWORD_RESET_ENABLED = False  # staff passwords are reset by a システム管理者
WAGTAILUSERS_PASSWORD_REQUIRED = True
WAGTAILADMIN_USER_LOGIN_FORM = "kairan.staff.forms.LoginForm"

# --- LINE ------------------------------------------------------------------------
# LINE's hosts in production; the emulator (http://127.0.0.1:8100/api, /api-data) in the demo and tests.
KAIRAN_LINE_API_BASE = env_str("KAIRAN_LINE_API_BASE", "https://api.line.me")
KAIRAN_LINE_DATA_BASE = env_str("KAIRAN_LINE_DATA_BASE", "https://api-data.line.me")
KAIRAN_LINE_TIMEOUT = env_int("KAIRAN_LINE_TIMEOUT", 10, minimum=1)
KAIRAN_LINE_ATTEMPTS = env_int("KAIRAN_LINE_ATTEMPTS", 4, minimum=1)
KAIRAN_LINE_BACKOFF = float(env_int("KAIRAN_LINE_BACKOFF_MS", 500, minimum=0)) / 1000
# Requests per window (seconds) per endpoint, shared by every process (LINE's published limits).
KAIRAN_LINE_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "default": (2000, 1),
    "multicast": (200, 1),
    "broadcast": (60, 3600),
    "narrowcast": (60, 3600),
    "richmenu.create": (100, 3600),
    "richmenu.delete": (100, 3600),
    "richmenu.batch": (3, 3600),
    # LINE's 100/hour row also lists these two (the emulator enforces them too); the other
    # rich-menu calls (validate, image, alias create/update, default, link per user, bulk link
    # and unlink, "richmenu.bulk.link"/".unlink") come under "default".
    "richmenu.alias.delete": (100, 3600),
    "richmenu.progress": (100, 3600),
}
# The outbox (line_channel.outbox): sends per item before it fails for good, seconds after
# which an item whose sender died is taken over (longer than one send with all its retries),
# first backoff between attempts, sender threads per Django-Q task and a task's time budget;
# and how long after the event a reply token is used (LINE: about 30 s; push after that).
KAIRAN_OUTBOX_MAX_ATTEMPTS = env_int("KAIRAN_OUTBOX_MAX_ATTEMPTS", 8, minimum=1)
KAIRAN_OUTBOX_CLAIM_TIMEOUT = env_int("KAIRAN_OUTBOX_CLAIM_TIMEOUT", 120, minimum=1)
KAIRAN_OUTBOX_BACKOFF = float(env_int("KAIRAN_OUTBOX_BACKOFF_MS", 5000, minimum=0)) / 1000
KAIRAN_OUTBOX_THREADS = env_int("KAIRAN_OUTBOX_THREADS", 8, minimum=1, maximum=32)
KAIRAN_OUTBOX_PUMP_SECONDS = env_int("KAIRAN_OUTBOX_PUMP_SECONDS", 50, minimum=1)
KAIRAN_LINE_REPLY_WINDOW = env_int("KAIRAN_LINE_REPLY_WINDOW", 20, minimum=0)
# How often each process looks whether another one changed the chatbot's published content
# (chatbot.content): a published page reaches every web and cluster process within this time.
KAIRAN_CHATBOT_CONTENT_CHECK_SECONDS = env_int("KAIRAN_CHATBOT_CONTENT_CHECK_MS", 1000, minimum=0) / 1000
# Days after a friend blocked the account (and did not come back) before what we hold about them
# (受信設定, LINE profile) is deleted (residents.tasks.purge_departed_residents).
KAIRAN_RESIDENT_RETENTION_DAYS = env_int("KAIRAN_RESIDENT_RETENTION_DAYS", 90, minimum=1)
# Days a processed webhook event (what a resident sent, encrypted) is kept for tracing problems.
KAIRAN_LINE_EVENT_RETENTION_DAYS = env_int("KAIRAN_LINE_EVENT_RETENTION_DAYS", 30, minimum=1)
if raw_limits := env_str("KAIRAN_LINE_RATE_LIMITS", ""):
    import json as _json

    try:
        _limits = _json.loads(raw_limits).items()
        KAIRAN_LINE_RATE_LIMITS.update({k: (int(v[0]), int(v[1])) for k, v in _limits})
    except (ValueError, TypeError, IndexError, AttributeError) as _exc:
        raise ImproperlyConfigured(
            'KAIRAN_LINE_RATE_LIMITS must be JSON like {"multicast": [200, 1]}'
        ) from _exc
# The Japanese font the rich-menu images are drawn with (line_channel.richmenu_design): a system
# font, never one in the repository; Debian's fonts-noto-cjk by default.
KAIRAN_RICHMENU_FONT = env_str("KAIRAN_RICHMENU_FONT", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")

# --- LIFF pages (pages opened inside LINE; line_channel.liff) ----------------------
# The LIFF SDK the pages load: LINE's CDN in production; the emulator's shim
# (<emulator>/static/liff-shim.js) in the demo (scripts/run.sh) and the tests.
KAIRAN_LIFF_SDK_URL = env_str("KAIRAN_LIFF_SDK_URL", "https://static.line-scdn.net/liff/edge/2/sdk.js")
# The LIFF app of the LINE Login channel (LINE Developers → LIFF), endpoint URL <KAIRAN_BASE_URL>/liff/.
# LINE連携設定's LIFF ID wins; this is used while that field is empty.
KAIRAN_LIFF_ID = env_str("KAIRAN_LIFF_ID", "")
# How long the LINE identity verified on a LIFF page lasts in the session before LINE is asked again.
KAIRAN_LIFF_SESSION_MINUTES = env_int("KAIRAN_LIFF_SESSION_MINUTES", 60, minimum=1, maximum=12 * 60)
# CSP of LIFF pages = KAIRAN_CSP plus: script-src the SDK's origin; connect-src the SDK's origin,
# KAIRAN_LINE_API_BASE's and these (the LINE hosts the official SDK calls besides api.line.me).
KAIRAN_LIFF_CONNECT_SRC = env_list(
    "KAIRAN_LIFF_CONNECT_SRC", ["https://access.line.me", "https://liff.line.me"]
)
# Origins allowed to show LIFF pages in a frame (CSP frame-ancestors; X-Frame-Options is then
# left off LIFF pages): none in production (LINE's LIFF browser is no frame); the emulator's
# phone simulator (its in-app browser is an iframe) in the demo and tests.
KAIRAN_LIFF_FRAME_ANCESTORS = env_list("KAIRAN_LIFF_FRAME_ANCESTORS", [])

# --- Operation and access logs -----------------------------------------------
KAIRAN_OPLOG_RETENTION_DAYS = env_int("KAIRAN_OPLOG_RETENTION_DAYS", 365 * 5, minimum=1)
KAIRAN_ACCESS_LOG_RETENTION_DAYS = env_int("KAIRAN_ACCESS_LOG_RETENTION_DAYS", 365, minimum=1)

# --- Logging -------------------------------------------------------------------
LOG_LEVEL = env_choice("KAIRAN_LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Wagtail's background tasks (search index, reference index) log every run.
        "django_tasks": {"level": "WARNING"},
    },
}
