"""Packaging beyond pyproject.toml: the top-level display/ folder (the front ends of the
office screens) ships inside the server's wheel as the ``queue_app.display`` package."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["queue_app", "queue_app.*"]), "queue_app.display"],
    package_dir={"queue_app.display": "display"},
)
