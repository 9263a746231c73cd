"""Package discovery that pyproject.toml's declarative form cannot say: every package under
``tirui/`` is found (never listed by hand), plus ``tirui.styles``, whose files live in the
checkout's top-level ``styles/`` (``package-dir`` in pyproject.toml). Everything else is in
pyproject.toml."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["tirui", "tirui.*"]), "tirui.styles"])
