"""``qvalley qkd …``: the quantum key distribution backbone.

The group is split by layer: ``qkd_link`` (link physics and the event-by-event protocol:
``keyrate``, ``link``) and ``qkd_net`` (the trusted-node network, key delivery and PKI:
``network``, ``kms``, ``pki``). Each module has ``register(qkd_subparsers)`` returning
``{subcommand: handler}``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from . import qkd_link, qkd_net

Handler = Callable[[argparse.Namespace], int]


def register(sub: Any) -> dict[str, Handler]:
    q = sub.add_parser("qkd", help="quantum key distribution: links, trusted-node network, ETSI 014 KMS")
    qsub = q.add_subparsers(dest="qkd_command", required=True, parser_class=type(q))
    handlers: dict[str, Handler] = {}
    handlers.update(qkd_link.register(qsub))
    handlers.update(qkd_net.register(qsub))

    def dispatch(a: argparse.Namespace) -> int:
        return handlers[a.qkd_command](a)

    return {"qkd": dispatch}
