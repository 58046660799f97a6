"""Unrolled's engine: an exact, instrumented unroll of RNN, LSTM and GRU in pure PyTorch."""

from .config import Config
from .init import init_weights
from .inputs import make_task
from .trace import Trace
from .unroll import unroll
from .weights import config_from_weights, read_weights

__all__ = ["Config", "Trace", "config_from_weights", "init_weights", "make_task", "read_weights",
           "unroll"]
