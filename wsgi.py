"""WSGI entry point: gunicorn -k gthread --threads 64 -w 1 wsgi:app

Each gunicorn process serves HTTP and Socket.IO (threading mode, WebSocket via
simple-websocket). Run several behind a reverse proxy with sticky sessions and
QUEUE_APP_REDIS_URL set, plus one `queue-app worker` for the periodic jobs.
"""

from queue_app import create_app

app = create_app()

if app.config.get("SCHEDULER_IN_PROCESS"):
    from queue_app.jobs.scheduler import build_scheduler

    build_scheduler(app, blocking=False).start()
