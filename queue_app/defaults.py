"""Guichet default settings.

Every setting here can be overridden by the Python file named in
``QUEUE_APP_CONFIG`` and then by an environment variable with the
``QUEUE_APP_`` prefix (``QUEUE_APP_DATABASE_URL=postgresql://...``).
Environment values are parsed as JSON when they look like JSON
(``QUEUE_APP_API_TOKEN_TTL_HOURS=24``), else kept as strings.
"""

# Signs session cookies and CSRF tokens. When unset, a random key is
# generated once and kept in the instance folder (fine for one machine;
# set it explicitly when several machines serve the same office).
SECRET_KEY = None

# SQLAlchemy URL. Unset: a SQLite file in the instance folder.
# PostgreSQL: postgresql://user:password@host:5432/guichet
DATABASE_URL = None
DATABASE_POOL_SIZE = 10
DATABASE_MAX_OVERFLOW = 30
# Seconds a request waits for a free pooled connection, and for PostgreSQL to
# accept a new one, before it is answered 503 (see UNAVAILABLE_RETRY_AFTER).
DATABASE_POOL_TIMEOUT = 10
DATABASE_CONNECT_TIMEOUT = 5

# Redis, used as the Socket.IO message queue between server processes and the
# worker, and as the rate-limit store. Unset: single process, in memory.
REDIS_URL = None
SOCKETIO_CHANNEL = "guichet"
# While Redis is down, realtime events still reach the screens connected to the
# process that emits them; the subscription and the publisher try Redis again
# every this many seconds at most. When its subscription is back, a process
# asks its screens to fetch their state again (Socket.IO event "resync"); when
# it can publish again, it asks the other processes to do the same.
REDIS_RETRY_SECONDS = 2

# External URL of the server, used in tracking links and QR codes.
PUBLIC_URL = "http://127.0.0.1:5000"

# Languages offered to users; the first is the default.
LANGUAGES = ["fr", "en"]

# Region used to read phone numbers written without a country code.
DEFAULT_PHONE_REGION = "SN"

# Lifetime of a token from POST /api/v1/auth/token.
API_TOKEN_TTL_HOURS = 12

# Tickets still waiting this long after the site's last closing time of the
# day are closed by the day-close job (citizens already inside at closing time
# are usually still served). Without opening hours the day closes at midnight.
DAY_CLOSE_GRACE_MINUTES = 60

# Phone numbers given with tickets are erased after this many days.
RETENTION_DAYS = 30

# Run the periodic jobs inside the web process (``queue-app run`` does; a
# production deployment runs ``queue-app worker`` once and leaves it False).
SCHEDULER_IN_PROCESS = False

# Number of recent calls a display board shows.
BOARD_CALLS = 8

# Largest accepted request body, in bytes.
MAX_CONTENT_LENGTH = 64 * 1024

# --- Hardening: sign-in limits, sessions, outages ------------------------------

# Sign-in limits (web form and POST /api/v1/auth/token), in Flask-Limiter's
# syntax ("5 per minute;20 per hour"). Per account: every password tried for
# one e-mail counts, from any address, and a successful sign-in starts the count
# again; when reached, that account waits (429) and nobody else does. Per
# address: failed sign-ins from one client address count; successes do not, so
# a whole office behind one NAT address signs in at 08:00.
SIGNIN_LIMIT_ACCOUNT = "5 per minute;20 per hour"
SIGNIN_LIMIT_ADDRESS = "30 per minute;300 per hour"

# Where rate limits are counted. Unset: REDIS_URL when set (shared by the server
# processes), else this process's memory. When the store does not answer,
# sign-in goes on, counting in memory, and the store is tried again after
# RATELIMIT_STORAGE_RETRY_SECONDS. RATELIMIT_ENABLED = False turns limits off.
RATELIMIT_STORAGE_URI = None
RATELIMIT_STORAGE_RETRY_SECONDS = 10
RATELIMIT_KEY_PREFIX = "guichet"

# Number of reverse proxies in front of the server that you trust to set
# X-Forwarded-For and X-Forwarded-Proto (nginx: 1). The client's address, used
# by the sign-in limits, is then read from that header; with 0 (the default)
# the header is ignored, since any client can write it. Never set it higher
# than the number of proxies that really rewrite the header.
TRUSTED_PROXIES = 0

# Session cookie: Secure (sent over HTTPS only) when SESSION_COOKIE_SECURE is
# True; None means True when PUBLIC_URL starts with https://. The same flags
# (Secure, HttpOnly, SameSite) apply to the "stay signed in" cookie.
SESSION_COOKIE_SECURE = None
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_HTTPONLY = True
# A sign-in without "stay signed in" ends after this many seconds (and when the
# browser closes); with it, after REMEMBER_DAYS. Each sign-in is a row of
# user_sessions: signing out deletes it, and a password change or a
# deactivation ends every session and API token of the user.
PERMANENT_SESSION_LIFETIME = 12 * 3600
REMEMBER_DAYS = 30

# While the database cannot be reached, the API answers 503
# {"error": {"code": "unavailable"}} and pages a "briefly unavailable" page
# that reloads itself, both with this Retry-After (seconds). The log says once
# when the outage starts and once when it ends; service resumes by itself.
UNAVAILABLE_RETRY_AFTER = 5

# Content-Security-Policy of every HTML page. Pages load scripts, styles, sounds
# and images from this server only: no inline script, no CDN, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
