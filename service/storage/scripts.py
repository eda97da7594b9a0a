"""The Lua scripts, shipped as files beside this module."""

from __future__ import annotations

from importlib import resources


def script_source(name: str) -> str:
    """The source of ``lua/<name>``."""
    return resources.files(__package__).joinpath(f"lua/{name}").read_text()


def script_parts(folder: str) -> list[str]:
    """The sources of ``lua/<folder>/*.lua`` in name order: the parts of one script."""
    parts = sorted((p for p in resources.files(__package__).joinpath(f"lua/{folder}").iterdir()
                    if p.name.endswith(".lua")), key=lambda p: p.name)
    return [f"-- {folder}/{part.name}\n" + part.read_text() for part in parts]
