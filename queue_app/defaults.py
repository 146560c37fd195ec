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

# Each server process keeps the bearer tokens and the set-up rows (sites,
# closures, services, counters' services, displays) it resolved, to spare a
# database round trip on every ticket and call (queue_app/infra/hotcache.py). A change
# committed to them (a device revoked, a user deactivated, a service stopped…)
# empties the cache of the process at once and, through Redis (REDIS_URL), of
# every other process at once. Entries live HOT_CACHE_SECONDS while the Redis
# subscription is up; HOT_CACHE_FALLBACK_SECONDS without Redis or while it is
# down (the longest another process may still accept a revoked token).
# HOT_CACHE_SECONDS = 0 turns the cache off.
HOT_CACHE_SECONDS = 5
HOT_CACHE_FALLBACK_SECONDS = 1

# External URL of the server, used in tracking links and QR codes: an address the
# citizens' phones reach (https://guichet.example.sn, or http://192.168.1.20:5000 on
# the office's Wi-Fi). The production server (wsgi.py) and `queue-app check-settings`
# refuse an address of this machine only (127.0.0.1, localhost, 0.0.0.0), unless
# ALLOW_LOOPBACK_PUBLIC_URL is True (trying the production server on one machine).
PUBLIC_URL = "http://127.0.0.1:5000"
ALLOW_LOOPBACK_PUBLIC_URL = False

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
# address: failed sign-ins from one client address count; successes do not, and
# the bound is far above what a whole office behind one NAT address does (twenty
# agents mistyping twice at 08:00 are forty), so only a client trying many
# accounts reaches it.
SIGNIN_LIMIT_ACCOUNT = "5 per minute;20 per hour"
SIGNIN_LIMIT_ADDRESS = "300 per hour"
# A browser that signed in to an account with its password keeps a signed cookie
# for this many days (sent to /login only; web/known_browsers.py). Its attempts
# for that account are counted on their own, with SIGNIN_LIMIT_ACCOUNT, and not
# against the address: a stranger guessing an agent's password, or someone
# spraying passwords from behind the office's address, keeps neither the agent
# nor the office's PCs out.
SIGNIN_KNOWN_BROWSER_DAYS = 180

# Guessing codes: every public look-up by a ticket's tracking code or a reference
# (tracking page and API, its rating, appointments by reference, the booking
# page's "find my appointment", complaint status, the kiosk's QR image, the
# Socket.IO "track" event). Only look-ups of codes that do not exist count, so
# the phones of a waiting room behind one NAT address, polling their own valid
# codes, cost nothing. Per address: beyond LOOKUP_LIMIT_ADDRESS failures, every
# look-up from that address waits (429 with Retry-After; a page for a person).
# Everywhere: beyond LOOKUP_LIMIT_GLOBAL failures (guesses spread over many
# addresses), the addresses that failed a look-up within their own window wait
# too; the others go on. Signed-in users and devices are not counted.
LOOKUP_LIMIT_ADDRESS = "20 per minute;100 per hour"
LOOKUP_LIMIT_GLOBAL = "1000 per hour"

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

# --- Appointments, SMS booking and reminders ---------------------------------

# How long before its slot an appointment can be checked in (kiosk, agent), and
# how long after its start it still can (a late citizen keeps the appointment).
CHECK_IN_EARLY_MINUTES = 60
CHECK_IN_LATE_MINUTES = 15

# A checked-in appointment is called first from this many minutes before its
# slot (the call policy's grace period), ahead of priority and walk-in tickets.
APPOINTMENT_CALL_AHEAD_MINUTES = 5

# A slot can be booked until this many minutes before it starts.
BOOKING_MIN_LEAD_MINUTES = 30

# Whether the booking page asks for the citizen's name (otherwise optional).
BOOKING_NAME_REQUIRED = False

# Rate limit of the public booking page and API (Flask-Limiter syntax).
RATELIMIT_BOOKING = "20 per minute;200 per hour"

# Reminders, in hours before the slot (24 = the day before). A reminder is not
# sent for an appointment booked after its time had come.
REMINDER_HOURS_BEFORE = [24, 2]

# "Votre tour approche": sent once to a ticket's phone when this many people
# (or fewer) are ahead of it.
TURN_NEAR_POSITION = 3

# SMS gateway used by sites without their own: console (development: messages
# are logged masked and kept in instance/sms-console.jsonl), twilio, android,
# orange. A site's own gateway is set with PUT /api/v1/sites/<slug>/sms-gateway.
SMS_GATEWAY = "console"

# Sending hours, site-local (reminders, notices); replies to a citizen who just
# wrote, booking confirmations and turn-near notices are sent at any hour.
SMS_SENDING_HOURS = ["08:00", "17:00"]

# Outbox delivery: every SMS_OUTBOX_INTERVAL_SECONDS, at most SMS_BATCH_SIZE
# messages; a failure is retried after 30 s, 1, 2, 4… minutes (capped at
# SMS_MAX_BACKOFF_SECONDS), SMS_MAX_ATTEMPTS times. A message claimed for
# sending but not confirmed after SMS_SEND_LEASE_SECONDS (a crash) is
# reconciled with the provider before any new attempt.
SMS_OUTBOX_INTERVAL_SECONDS = 10
SMS_BATCH_SIZE = 50
SMS_MAX_ATTEMPTS = 8
SMS_MAX_BACKOFF_SECONDS = 3600
SMS_SEND_LEASE_SECONDS = 120
SMS_HTTP_TIMEOUT_SECONDS = 10

# An SMS booking dialogue is forgotten after this many minutes of silence.
SMS_CONVERSATION_MINUTES = 30

# Site that answers an inbound SMS when the number it was sent to matches no
# site's own gateway (a single-office installation needs nothing here).
SMS_DEFAULT_SITE = None

# Twilio (SMS and WhatsApp). TWILIO_API_URL is an origin, the SDK's api.base_url.
TWILIO_ACCOUNT_SID = None
TWILIO_AUTH_TOKEN = None
TWILIO_FROM = None
TWILIO_API_URL = "https://api.twilio.com"
# WhatsApp sender ("whatsapp:+14155238886"), and the approved template (content
# SID) used outside WhatsApp's 24-hour window; its variable {{1}} is our text.
TWILIO_WHATSAPP_FROM = None
TWILIO_WHATSAPP_CONTENT_SID = None

# SMS Gateway for Android (an Android phone with a local SIM): its API base URL
# (local mode http://<phone>:8080, cloud https://api.sms-gate.app/3rdparty/v1),
# credentials, and the key that signs its webhooks (Settings > Webhooks).
ANDROID_SMS_URL = "https://api.sms-gate.app/3rdparty/v1"
ANDROID_SMS_LOGIN = None
ANDROID_SMS_PASSWORD = None
ANDROID_SMS_SIGNING_KEY = None
# Webhooks older or newer than this many seconds are refused (replays).
ANDROID_SMS_WEBHOOK_TOLERANCE_SECONDS = 300

# Orange SMS API (OAuth2 client credentials): base URL, credentials, the sender
# number (tel:+221…), an optional registered sender name, and the secret in the
# callback URL registered with Orange (/sms/orange/<secret>).
ORANGE_SMS_URL = "https://api.orange.com"
ORANGE_CLIENT_ID = None
ORANGE_CLIENT_SECRET = None
ORANGE_SENDER = None
ORANGE_SENDER_NAME = None
ORANGE_WEBHOOK_SECRET = None

# Where the console gateway keeps what it "sends" (default: instance/sms-console.jsonl).
SMS_CONSOLE_PATH = None

# Weekly hours offered for booking by a site that has set no opening hours
# (such a site takes tickets at any hour, but appointments need a day to cut
# into slots). None: a site without opening hours offers no appointment.
BOOKING_DEFAULT_HOURS = {
    day: [["08:00", "12:30"], ["14:00", "17:00"]]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}
# --- Kiosk and ticket printing ---------------------------------------------------

# Seconds the kiosk shows an issued ticket before going back to the services
# (twice as long when the ticket could not be printed, so the citizen can note it).
KIOSK_RESET_SECONDS = 12

# Whether the kiosk offers "J'ai un rendez-vous" (appointment check-in with its
# reference code, POST /api/v1/appointments/<reference>/check-in). None: when
# one of the site's services takes appointments; True or False forces it.
KIOSK_APPOINTMENTS = None

# A kiosk reads back a ticket it issued (GET /api/v1/tickets/<id>) and its print
# job (the kiosk page follows the print for a few seconds) for this many minutes
# after issuing it; afterwards, and for any other ticket, only staff do (403). A
# kiosk token left on a PC does not open the day's tickets and tracking codes.
KIOSK_READ_MINUTES = 10

# Characters of appointment references on the kiosk keypad (no 0/O, 1/I look-alikes).
KIOSK_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# Lines printed at the foot of every ticket (opening hours, a phone number) when the
# kiosk's printer options give none: ["Ouvert du lundi au vendredi, 8h-17h", "Tél. 33 951 00 00"].
PRINT_FOOTER: list[str] = []

# Print jobs of server-driven printers (tcp://, file://, dummy:… without a print
# agent) are printed by the process that spooled them, right after commit; the
# scheduler (worker or `queue-app run`) retries the ones that failed.
PRINT_IN_PROCESS = True

# Retry a print whose printer did not answer after RETRY_BASE × 2^(attempt-1)
# seconds, at most RETRY_MAX seconds apart; give up (status failed, shown to staff,
# reprintable) when the job is older than GIVE_UP_MINUTES: a ticket printed much
# later would only confuse the queue.
PRINT_RETRY_BASE_SECONDS = 2.0
PRINT_RETRY_MAX_SECONDS = 30.0
PRINT_GIVE_UP_MINUTES = 15

# A job handed to a printer or print agent is due again after this many seconds
# without an answer (a crashed agent or process); see "Printed once" in docs/operations/printers.md.
PRINT_LEASE_SECONDS = 30

# Connection timeout to a printer, and how long to wait for its paper status after
# a print (0 disables the query; printers that never answer cost this much per ticket).
PRINT_TIMEOUT_SECONDS = 5.0
PRINT_PAPER_QUERY_SECONDS = 0.5

# --- Waiting-room displays (display/, queue_app/screens) -----------------------

# Largest voice recording an office may upload (bytes; OGG, MP3, WAV or WebM).
VOICE_CLIP_MAX_BYTES = 512 * 1024

# A call the display learns of late (it was offline a moment) is still spoken
# when it was made less than this many seconds ago; older ones are only shown.
DISPLAY_ANNOUNCE_LATE_SECONDS = 20

# How long a new call flashes on the display, in seconds.
DISPLAY_FLASH_SECONDS = 8

# --- Realtime server for thousands of screens (queue_app/realtime/socket_guard.py) -------

# Flask-SocketIO's async mode: "auto" uses gevent in a process gevent patched
# (gunicorn -k gevent, `queue-app run`), threads elsewhere (tests, the worker).
# `queue-app run` patches unless the environment says QUEUE_APP_ASYNC_MODE=threading.
SOCKETIO_ASYNC_MODE = "auto"

# Anonymous Socket.IO connections (tracking pages) one client address may hold
# open on one server process; beyond it the handshake is answered 429. A waiting
# room of phones behind one router fits under it. Paired devices (displays,
# counter screens, kiosks, tablets, print agents) and signed-in users show their
# credentials in the handshake (token in the query or a Bearer header, or the
# console's session cookie) and are not counted: phones holding every place never
# keep the office's TV or an agent's console out. 0 removes the bound.
SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS = 200

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

# --- Operations: metrics, backups, logs (docs/operations/) ----------------------

# GET /metrics answers the machine itself (a loopback client with no proxy in
# between) without credentials, and others only with "Authorization: Bearer
# <METRICS_TOKEN>". None: only the machine itself reads the metrics.
METRICS_TOKEN = None

# The worker (`queue-app worker`, or `queue-app run`'s scheduler) writes a backup
# of the whole database into BACKUP_DIR every night at BACKUP_TIME (server's UTC
# clock, "HH:MM") and keeps the newest BACKUP_KEEP of them. BACKUP_DIR None: the
# folder "backups" of the instance folder; BACKUP_KEEP 0 turns nightly backups off.
BACKUP_DIR = None
BACKUP_KEEP = 7
BACKUP_TIME = "02:30"
# pg_dump and pg_restore to use on PostgreSQL (None: found on PATH, preferring the
# version of the server, /usr/lib/postgresql/<major>/bin).
PG_BIN_DIR = None

# Log lines: "text" (one readable line each) or "json" (one JSON object per line,
# with the request id, the site and the operation, for a log collector).
LOG_FORMAT = "text"

# --- Operations: devices alive, printer health, alerts (queue_app/ops) ------------

# A device (kiosk, display, tablet, print agent) is online while it was seen (a
# request with its token, or an open Socket.IO connection) within this many seconds;
# past it, during opening hours, a device_offline alert opens.
DEVICE_OFFLINE_SECONDS = 300

# Each process keeps the times devices were seen in memory and writes them every
# FLUSH seconds, one device at most every RESOLUTION seconds (last_seen_at is then
# late by at most that much, and a busy kiosk costs no write per ticket).
DEVICE_SEEN_FLUSH_SECONDS = 5.0
DEVICE_SEEN_RESOLUTION_SECONDS = 30.0

# A kiosk's printer the server drives is asked for its real-time status (DLE EOT)
# every this many seconds while it prints nothing (the print agent does the same
# for its printer); before and after each job too.
PRINTER_STATUS_IDLE_SECONDS = 180

# Alerts are evaluated by the scheduler every this many seconds.
ALERTS_INTERVAL_SECONDS = 15

# The SMS gateway of a site is failing when this many messages in a row (the
# latest attempts) did not go out.
ALERT_SMS_FAILURES = 3
