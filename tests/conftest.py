"""pytest hooks for the whole suite. The tests' reference implementations live in oracle.py."""

from __future__ import annotations

import torch


def pytest_configure(config):
    """One torch thread: the references' tiny matmuls run fastest so, and timings stay steady."""
    torch.set_num_threads(1)
