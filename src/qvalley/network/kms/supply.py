"""Key supply: run the relay network and deposit relayed end-to-end keys into the key store."""

from __future__ import annotations

from collections.abc import Iterable

from ..relay import KeyExhaustedError, Network, NoRouteError
from .store import KeyStore


class KeySupply:
    """Top up the store's material for node pairs by relaying keys through ``network``.

    Args:
        network: The live relay network (its pools are consumed).
        store: The shared key store.
        pairs: ``(src, dst)`` node pairs to keep supplied.
        target_bytes: Material to keep per pair.
        chunk_bits: Size of each relayed key.
    """

    def __init__(self, network: Network, store: KeyStore, pairs: Iterable[tuple[str, str]], *,
                 target_bytes: int = 64 * 1024, chunk_bits: int = 8192) -> None:
        self.network, self.store = network, store
        self.pairs = list(pairs)
        self.target_bytes, self.chunk_bits = target_bytes, chunk_bits
        self.relayed_bits = 0

    def top_up(self) -> int:
        """Relay keys until each pair holds ``target_bytes`` or the network runs dry; bits relayed."""
        total = 0
        for src, dst in self.pairs:
            while self.store.available_bytes(src, dst) < self.target_bytes:
                try:
                    res = self.network.relay(src, dst, self.chunk_bits)
                except (KeyExhaustedError, NoRouteError):
                    break
                self.store.deposit(src, dst, res.key)
                total += self.chunk_bits
        self.relayed_bits += total
        return total

    def advance(self, dt_s: float) -> int:
        """Let the links generate key for ``dt_s`` seconds, then top up."""
        self.network.step(dt_s)
        return self.top_up()
