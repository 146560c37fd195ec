"""The `queue-app` command line.

``launch`` is the console script's entry point; it must stay importable without
Flask (it patches the standard library for gevent before anything else is
imported). The commands live in ``commands``.
"""
