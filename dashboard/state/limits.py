"""The dashboard's limits: caps on sizes and a memory budget per run, so the page stays responsive
and a few sessions fit one small server. Pure: no Streamlit. The Python API has no such caps.
"""

from __future__ import annotations

from engine import Config

# Dashboard caps, tighter than the engine's: every value is drawn in a browser, and the page must
# answer in seconds. MAX_VALUES bounds T * B * H * layers * directions (values per quantity).
MAX_SEQ_LEN = 5000
MAX_HIDDEN = 512
MAX_BATCH = 64
MAX_VALUES = 6_000_000
# The attention readout weighs every pair of steps: T x T x batch weights alpha_tk, kept in the
# trace (8 bytes each in float64) and 25-36 bytes each at the peak of its backward (measured at
# T = 2000-5000). Capped on its own: about T = 2000 for one sequence.
MAX_ATTENTION_VALUES = 4_000_000

# Memory budget (README "Limits"): one run's peak working set stays under RUN_BUDGET, so a few
# sessions at once fit a small server. Per value of T*B*H*layers*directions, in float64 (float32
# halves it), measured by benchmarks/bench_memory.py and rounded up: the peak while unrolling,
# and what a finished Trace keeps (what the page caches hold).
RUN_BUDGET = 1024 * 2**20
CACHE_TTL = 3600  # seconds: every result cache also forgets entries after an hour
PEAK_BYTES_PER_VALUE = {"rnn": 104, "lstm": 240, "gru": 300}
KEPT_BYTES_PER_VALUE = {"rnn": 32, "lstm": 64, "gru": 40}


def values_per_quantity(config: Config) -> int:
    """T * B * H * layers * directions: the size of one per-step quantity."""
    return (config.seq_len * config.batch_size * config.hidden_size * config.num_layers
            * config.num_directions)


def peak_bytes(config: Config) -> int:
    """Estimated peak working set of unrolling this config (measured per-value costs)."""
    scale = 0.5 if config.dtype == "float32" else 1.0
    return int(values_per_quantity(config) * PEAK_BYTES_PER_VALUE[config.cell] * scale)


def size_problem(config: Config) -> str | None:
    """Why this run is too big for the dashboard, or None when it fits."""
    n = values_per_quantity(config)
    if n > MAX_VALUES:
        return (f"This run would hold T x batch x H x layers x directions = {n:,} values per "
                f"quantity; the dashboard stops at {MAX_VALUES:,} so the page stays responsive. "
                "Lower the batch, the layers, H or T (the Python API has no such cap).")
    pairs = config.seq_len**2 * config.batch_size
    if config.readout == "attention" and pairs > MAX_ATTENTION_VALUES:
        return (f"The attention readout weighs every pair of steps: T x T x batch = {pairs:,} "
                f"weights; the dashboard stops at {MAX_ATTENTION_VALUES:,} (about T = 2,000 for "
                "one sequence) so the page stays responsive. Lower T or the batch, or use the "
                "linear readout (the Python API has no such cap).")
    need = peak_bytes(config)
    if need > RUN_BUDGET:
        fits = int(RUN_BUDGET / need * config.seq_len)
        return (f"This {config.cell.upper()} run would need about {need / 2**20:,.0f} MiB of memory "
                f"({n:,} values per quantity); the dashboard's budget is "
                f"{RUN_BUDGET / 2**20:,.0f} MiB per run so several people can use it at once. "
                f"Lower the batch, the layers or H, use float32, or keep T at most about {fits:,} "
                "(the Python API has no such cap).")
    return None
