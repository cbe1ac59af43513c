"""What this machine's CPU does that changes answers: whether its int8 products are exact.

The cross-encoder (qa/rerank.py) is an int8 model. ONNX Runtime multiplies int8 with VNNI's dot-product
instructions where the CPU has them, exactly; on an x86-64 CPU without them its default kernel adds pairs of
products into 16 bits, which saturate, so the same question gets other logits and sometimes another first
passage (the likely reason one fresh machine's figures differed from another's with the same code).
`exact_int8_option()` says whether a session must ask for the exact, slower kernel instead.

Measured (bench/RESULTS.md, "The same answers on every CPU"): on a CPU with VNNI the exact kernel gives the
same logits and costs 1.7x the cross-encoder's time, so it is asked for only where it is needed.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})  # Linux's names for the exact int8 dot products
X86_64 = frozenset({"x86_64", "amd64"})
EXACT_INT8 = "session.x64quantprecision"  # ONNX Runtime's session option for exact int8 products on x86-64


def read_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The first CPU's feature flags in a /proc/cpuinfo file; empty where there is none (macOS, Windows)."""
    try:
        with cpuinfo.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """This machine's CPU flags, read once."""
    return read_flags()


def has_vnni(flags: frozenset[str] | None = None) -> bool:
    """Whether `flags` (this CPU's by default) include an exact int8 dot product."""
    return bool((cpu_flags() if flags is None else flags) & VNNI_FLAGS)


def exact_int8_option(*, machine: str | None = None, flags: frozenset[str] | None = None) -> bool:
    """True when ONNX Runtime must be asked for exact int8 products (session.x64quantprecision): an x86-64 CPU
    not known to have VNNI, including one whose flags cannot be read. Elsewhere the option does nothing.

    >>> exact_int8_option(machine="x86_64", flags=frozenset({"avx2"}))
    True
    >>> exact_int8_option(machine="x86_64", flags=frozenset({"avx2", "avx512_vnni"}))
    False
    >>> exact_int8_option(machine="aarch64", flags=frozenset())
    False
    """
    machine = (machine or platform.machine()).lower()
    return machine in X86_64 and not has_vnni(flags)


def int8_description() -> str:
    """For benchmark headers: which int8 kernel the cross-encoder runs on here."""
    if platform.machine().lower() not in X86_64:
        return f"int8 on {platform.machine()}"
    if not cpu_flags():
        return "int8, VNNI unknown: exact kernel"
    return "int8 with VNNI" if has_vnni() else "int8 without VNNI: exact kernel, slower"
