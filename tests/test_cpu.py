"""plumbing/cpu.py: whether ONNX Runtime is asked for exact int8 products, from the CPU's flags."""

from __future__ import annotations

from plumbing import cpu


def test_flags_are_read_from_the_first_cpu_of_a_cpuinfo_file(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu avx2 avx512_vnni\n\n"
                    "processor\t: 1\nflags\t\t: fpu\n", encoding="utf-8")
    assert cpu.read_flags(info) == frozenset({"fpu", "avx2", "avx512_vnni"})


def test_no_cpuinfo_means_no_flags_so_an_x86_cpu_gets_the_exact_kernel(tmp_path):
    flags = cpu.read_flags(tmp_path / "missing")
    assert flags == frozenset()
    assert cpu.exact_int8_option(machine="AMD64", flags=flags)


def test_only_an_x86_cpu_without_vnni_asks_for_the_exact_kernel():
    assert cpu.exact_int8_option(machine="x86_64", flags=frozenset({"avx2", "avx512f"}))
    for vnni in ("avx512_vnni", "avx_vnni", "amx_int8"):
        assert not cpu.exact_int8_option(machine="x86_64", flags=frozenset({"avx2", vnni}))
    assert not cpu.exact_int8_option(machine="aarch64", flags=frozenset({"asimd"}))
