"""Where stalkview keeps its files: the XDG base directories (macOS treated the same).

Nothing is created here; writers create the directory they need when they
first write, so importing or listing never leaves files behind.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "stalkview"


def _xdg_dir(variable: str, fallback: str) -> Path:
    # The spec says relative values are invalid and must be ignored.
    value = os.environ.get(variable, "")
    if value and os.path.isabs(value):
        return Path(value) / APP_NAME
    return Path.home() / fallback / APP_NAME


def data_dir() -> Path:
    """``$XDG_DATA_HOME/stalkview``, default ``~/.local/share/stalkview``."""
    return _xdg_dir("XDG_DATA_HOME", ".local/share")


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/stalkview``, default ``~/.config/stalkview``."""
    return _xdg_dir("XDG_CONFIG_HOME", ".config")


def journal_path() -> Path:
    """The journal file: ``$STALKVIEW_JOURNAL`` if set, else ``data_dir()/journal.jsonl``."""
    override = os.environ.get("STALKVIEW_JOURNAL", "")
    if override:
        return Path(override).expanduser()
    return data_dir() / "journal.jsonl"
