"""The front ends of the office screens: pages, styles, scripts and sounds of the
waiting-room TV and the counter screen (``tv/``), the touch kiosk (``kiosk/``) and
the satisfaction tablet (``tablet/``).

This folder is the top-level ``display/`` of the repository; the server's wheel
ships it as the ``queue_app.display`` package (setup.py maps it), and the
blueprints of ``queue_app.web`` serve it: templates from ``templates/``, files
under ``/display/static/``.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
