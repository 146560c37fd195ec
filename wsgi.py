"""WSGI entry point: gunicorn -k gevent -w 1 --worker-connections 10000 wsgi:app

Each gunicorn process serves HTTP and Socket.IO (gevent mode: one greenlet per
connection, WebSocket via simple-websocket; gunicorn's gevent worker patches
the standard library before it loads this module). Run several behind a
reverse proxy with sticky sessions (config/nginx.example.conf) and
QUEUE_APP_REDIS_URL set, plus one `queue-app worker` for the periodic jobs.
"""

from queue_app import create_app, settle_heap
from queue_app.infra.config import check_production_settings

app = create_app()
# A loopback PUBLIC_URL would print QR codes no phone can open: refuse to serve
# (gunicorn stops: "Worker failed to boot", after this message).
check_production_settings(app.config)

if app.config.get("SCHEDULER_IN_PROCESS"):
    from queue_app.jobs.scheduler import build_scheduler

    build_scheduler(app, blocking=False).start()

settle_heap()
