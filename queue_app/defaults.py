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

# --- Quality: satisfaction, complaints, statistics, estimates -----------------

# Days the office gives itself to answer a complaint or suggestion (its deadline);
# unanswered ones past it are shown overdue.
COMPLAINT_ANSWER_DAYS = 15

# The name, phone number and personal data typed into a complaint are erased
# this many days after it was filed (the anonymous register stays). Comments
# of ratings holding a phone number or e-mail are erased after RETENTION_DAYS.
COMPLAINT_RETENTION_DAYS = 180

# How long after service a visit may be rated: on the counter's tablet
# (minutes), and on the citizen's tracking page (hours).
FEEDBACK_TABLET_MINUTES = 30
FEEDBACK_TRACK_HOURS = 48

# Rate limits (Flask-Limiter syntax, per client address) of the public forms:
# complaints, and ratings from tracking pages.
RATELIMIT_COMPLAINTS = "5 per hour;20 per day"
RATELIMIT_FEEDBACK = "30 per minute"

# Waiting estimates learn service times per service and hour of day from the
# tickets served in this many past days.
ESTIMATE_LEARNING_DAYS = 28

# The range the dashboard shows first: the last N days, today included.
DASHBOARD_DEFAULT_DAYS = 7
