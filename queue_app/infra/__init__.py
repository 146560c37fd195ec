"""Infrastructure the features stand on: settings, the database and its locks,
per-process caches, outages, the locale of a request."""
