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

# Redis, used as the Socket.IO message queue between server processes and the
# worker, and as the rate-limit store. Unset: single process, in memory.
REDIS_URL = None
SOCKETIO_CHANNEL = "guichet"

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

# Rate limits (Flask-Limiter syntax) for password checks.
RATELIMIT_LOGIN = "10 per minute;100 per hour"

# Session cookie: set SESSION_COOKIE_SECURE = True behind HTTPS.
SESSION_COOKIE_SECURE = False
SESSION_COOKIE_SAMESITE = "Lax"
PERMANENT_SESSION_LIFETIME = 12 * 3600

# Content-Security-Policy of every HTML page. Pages load scripts, styles, sounds
# and images from this server only: no inline script, no CDN, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


# --- Waiting-room displays (display/, queue_app/screens) -----------------------

# Largest voice recording an office may upload (bytes; OGG, MP3, WAV or WebM).
VOICE_CLIP_MAX_BYTES = 512 * 1024

# A call the display learns of late (it was offline a moment) is still spoken
# when it was made less than this many seconds ago; older ones are only shown.
DISPLAY_ANNOUNCE_LATE_SECONDS = 20

# How long a new call flashes on the display, in seconds.
DISPLAY_FLASH_SECONDS = 8

# --- Realtime server for thousands of screens (queue_app/socket_guard.py) -------

# Flask-SocketIO's async mode: "auto" uses gevent in a process gevent patched
# (gunicorn -k gevent, `queue-app run`), threads elsewhere (tests, the worker).
# `queue-app run` patches unless the environment says QUEUE_APP_ASYNC_MODE=threading.
SOCKETIO_ASYNC_MODE = "auto"

# Socket.IO connections one client address may hold open on one server process
# (tracking pages of a waiting room behind one router, displays, consoles).
# 0 removes the bound.
SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS = 200

# Reverse proxies in front of the server whose X-Forwarded-For/-Proto/-Host to
# trust (1 behind the nginx of config/nginx.example.conf). 0: use the peer address.
PROXY_COUNT = 0
