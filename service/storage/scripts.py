"""The Lua scripts, shipped as files beside this module."""

from __future__ import annotations

from importlib import resources


def script_source(name: str) -> str:
    """The source of ``lua/<name>``."""
    return resources.files(__package__).joinpath(f"lua/{name}").read_text()
