"""Statevector simulation: numpy reference, numba fast engine, gate fusion, and the driver."""
