"""Subcommands of ``qvalley qkd`` (see :mod:`qvalley.cli.qkd`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(qsub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    return {}
