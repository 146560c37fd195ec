"""Example production settings: copy, edit, and point QUEUE_APP_CONFIG at it.

    QUEUE_APP_CONFIG=/etc/guichet/settings.py gunicorn ...

Secrets may instead come from the environment (QUEUE_APP_SECRET_KEY, ...).
`queue-app check-settings` says what would keep the server from starting: the
production server (wsgi.py) refuses a PUBLIC_URL of the machine itself (127.0.0.1,
localhost), which no citizen's phone can open from a ticket's QR code.
"""

SECRET_KEY = "change-me: python -c 'import secrets; print(secrets.token_urlsafe(48))'"  # noqa: S105
DATABASE_URL = "postgresql://guichet:change-me@127.0.0.1:5432/guichet"
DATABASE_POOL_SIZE = 20
REDIS_URL = "redis://127.0.0.1:6379/0"
PUBLIC_URL = "https://guichet.example.sn"
SESSION_COOKIE_SECURE = True  # cookies over HTTPS only (the default when PUBLIC_URL is https)
TRUSTED_PROXIES = 1  # nginx in front sets X-Forwarded-For / X-Forwarded-Proto
SCHEDULER_IN_PROCESS = False  # run `queue-app worker` once beside the web processes
SOCKETIO_MAX_CONNECTIONS_PER_ADDRESS = 200  # anonymous sockets (phones); screens are not counted

# Operations (docs/operations/): Prometheus from another machine needs this token
# (the office's own machine reads /metrics without it); nightly backups; JSON logs.
METRICS_TOKEN = None  # "change-me: a long random string", or None: the machine itself only
BACKUP_DIR = "/var/backups/guichet"
BACKUP_KEEP = 14
BACKUP_TIME = "02:30"  # UTC
LOG_FORMAT = "json"
