"""Benchmarks: seeded benchmark circuits and the statevector harness that times qvalley vs peers."""
