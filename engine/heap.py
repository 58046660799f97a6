"""keep_freed_memory(): let the C heap keep the blocks an unroll frees, for the next unroll.

An unroll makes a few MB of fresh arrays (T=1000, H=128: about 10 MB) and frees them when its
trace goes. By default glibc gives large freed blocks back to the kernel (each one mapped on its
own, or the heap's top trimmed), so the next unroll writes into brand-new pages, and the kernel
zero-fills every 4 KiB page on first touch. How many depends on what was freed before (glibc's
thresholds adapt to it): for an LSTM unroll at T=1000, H=128, from about ten to 1,500 page
faults per unroll from one process to the next (getrusage's minor faults), at worst about 2 ms of
17. With blocks up to MMAP_THRESHOLD served from the heap, and up to TRIM_THRESHOLD of free heap
kept, the next unroll reuses the same pages: 0.2 faults per unroll in most processes measured,
62 in one.

A setting of the whole process, so the process's owner calls it: the dashboard at start-up
(dashboard/ui/startup.py) and the engine benchmark as the page does. Importing the engine
changes nothing. Where the C library is not glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest: 32 MiB on 64-bit (bigger blocks stay mapped alone)
TRIM_THRESHOLD = 64 * 2**20  # free memory the heap keeps at its top, at most (it counts in RSS)


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (above); True when both were set."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):  # no C library found, or no mallopt in it
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                             TRIM_THRESHOLD))
