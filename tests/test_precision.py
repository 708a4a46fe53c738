"""--mixed-precision auto: which policy the Trainer picks for the machine it runs on."""
import pytest

from model import distribution

# /proc/cpuinfo's flags line on the two CPU kinds these machines alternate between (abridged).
XEON_AMX = "fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile amx_int8"
EPYC = "fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni"


@pytest.mark.parametrize("has_gpu, flags, expected", [
    (False, XEON_AMX, "mixed_bfloat16"),
    (False, EPYC, "float32"),  # AVX-512 BF16 without AMX
    (False, "", "float32"),  # no /proc/cpuinfo
    (True, XEON_AMX, "mixed_float16"),
    (True, EPYC, "mixed_float16"),
])
def test_auto_picks_bfloat16_only_on_a_cpu_with_amx(has_gpu, flags, expected):
    assert distribution.auto_precision(has_gpu, frozenset(flags.split())) == expected


def test_cpu_flags_are_read_from_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: {XEON_AMX}\n\n"
                       f"processor\t: 1\nflags\t\t: {XEON_AMX}\n")
    assert distribution.cpu_flags(str(cpuinfo)) == frozenset(XEON_AMX.split())
    assert distribution.cpu_flags(str(tmp_path / "missing")) == frozenset()
