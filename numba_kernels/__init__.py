"""numba kernels on plain numpy arrays (CSR networks, OD matrices); no Python objects inside a kernel.

This package never imports ``mobility`` or SUMO.
"""
