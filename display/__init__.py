"""The waiting-room display front end: pages, styles, scripts and sounds for the TV.

This folder is the top-level ``display/`` of the repository; it is installed as
the ``queue_app.display`` package (``queue_app/display`` links here) so that
the built wheel carries it. ``queue_app.web.display`` serves it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"
