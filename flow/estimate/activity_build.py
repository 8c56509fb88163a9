"""The traced build for :mod:`flow.estimate.activity`: the design and its batch harness verilated with
``--trace-saif``, a C++ clock driver that samples ``qflow_accel`` once per cycle, and a trace-map hook.

The hook is a ``verilated_saif_c.h`` of our own in the model's ``obj/`` directory, where the model's C++ files
(and its precompiled header) find it before Verilator's (quoted includes search the including file's directory
and ``-I.`` first). It includes Verilator's header by its absolute path and then wraps its trace-declaration
macros, so that the driver can write, next to the SAIF, one line per traced declaration (Verilator trace code,
direction, kind, bit range, array index, scope path). Verilator gives
one trace code to one signal however many scopes show it (a port and the wire it connects to, an ``assign``
alias), and the SAIF writer repeats such a signal in every scope; the map is what lets the activity count
each signal once. The driver's plusargs: ``+saif=<file>``, ``+tracemap=<file>``, ``+saif_until=<cycles>``
(stop early; 0 or absent: when the harness is done), next to the harness's own (``+in``, ``+out``, ``+n``, ...).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from flow import proc
from flow.errors import QflowError
from flow.io import write_json, write_text
from flow.rtl.generate import TEMPLATES
from flow.rtl.verilator import build_harness, verilator_executable

MAX_TRACED_ARRAY = 32  # Verilator's --trace-max-array default, stated: deeper arrays are memories, not traced
_RESET_RELEASE = re.compile(r"if \(cycle == (\d+)\) rst_n <= 1'b1;")


class ActivityError(QflowError):
    """The traced build, its simulation, or the attribution of its toggles failed."""


# obj/verilated_saif_c.h after the line that includes Verilator's own header (see :func:`trace_map_header`): wraps
# the trace-declaration macros to record each traced signal's code, scope, name, direction and kind.
TRACE_MAP_HOOK = r"""#ifndef QFLOW_TRACE_MAP_H_
#define QFLOW_TRACE_MAP_H_
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace qflow_trace_map {
struct Decl {
    uint32_t code;
    std::string path;  // scopes and name separated by ' ', as the SAIF writer builds them
    int dir, kind, msb, lsb, arraynum;
};
inline std::vector<std::string>& prefixes() {
    static std::vector<std::string> stack{std::string()};
    return stack;
}
inline std::vector<Decl>& decls() {
    static std::vector<Decl> list;
    return list;
}
inline void push(const char* namep, VerilatedTracePrefixType type) {
    const std::string name{namep};
    const std::string prev = prefixes().back();
    if (name.empty() || name == "$rootio") {
        prefixes().push_back(prev);
        return;
    }
    const bool scope = type != VerilatedTracePrefixType::ARRAY_UNPACKED
                       && type != VerilatedTracePrefixType::ARRAY_PACKED;
    prefixes().push_back(prev + name + (scope ? " " : ""));
}
inline void pop() { prefixes().pop_back(); }
inline void decl(uint32_t code, const char* name, VerilatedTraceSigDirection dir, VerilatedTraceSigKind kind,
                 int msb, int lsb, int arraynum) {
    decls().push_back(Decl{code, prefixes().back() + name, static_cast<int>(dir), static_cast<int>(kind), msb, lsb,
                           arraynum});
}
inline const char* dir_name(int d) {
    switch (static_cast<VerilatedTraceSigDirection>(d)) {
    case VerilatedTraceSigDirection::INPUT: return "input";
    case VerilatedTraceSigDirection::OUTPUT: return "output";
    case VerilatedTraceSigDirection::INOUT: return "inout";
    default: return "none";
    }
}
inline const char* kind_name(int k) {
    switch (static_cast<VerilatedTraceSigKind>(k)) {
    case VerilatedTraceSigKind::PARAMETER: return "parameter";
    case VerilatedTraceSigKind::WIRE: return "wire";
    case VerilatedTraceSigKind::VAR: return "var";
    default: return "other";
    }
}
// One line per declaration: code, direction, kind, msb, lsb, array index (-1: none), path.
inline bool write(const char* filename) {
    FILE* fp = std::fopen(filename, "w");
    if (!fp) return false;
    for (const Decl& d : decls()) {
        std::fprintf(fp, "%u\t%s\t%s\t%d\t%d\t%d\t%s\n", d.code, dir_name(d.dir), kind_name(d.kind), d.msb, d.lsb,
                     d.arraynum, d.path.c_str());
    }
    return std::fclose(fp) == 0;
}
}  // namespace qflow_trace_map

#undef VL_TRACE_PUSH_PREFIX
#define VL_TRACE_PUSH_PREFIX(tracep, name, type, left, right) \
    (qflow_trace_map::push(name, type), tracep->pushPrefix(name, type));
#undef VL_TRACE_POP_PREFIX
#define VL_TRACE_POP_PREFIX(tracep) (qflow_trace_map::pop(), tracep->popPrefix());
#undef VL_TRACE_DECL_BIT
#define VL_TRACE_DECL_BIT(tracep, code, fidx, name, dtypenum, dir, kind, type) \
    (qflow_trace_map::decl(code, name, dir, kind, 0, 0, -1), tracep->declBit(code, fidx, name))
#undef VL_TRACE_DECL_BUS
#define VL_TRACE_DECL_BUS(tracep, code, fidx, name, dtypenum, dir, kind, type, msb, lsb) \
    (qflow_trace_map::decl(code, name, dir, kind, msb, lsb, -1), tracep->declBus(code, fidx, name, msb, lsb))
#undef VL_TRACE_DECL_QUAD
#define VL_TRACE_DECL_QUAD(tracep, code, fidx, name, dtypenum, dir, kind, type, msb, lsb) \
    (qflow_trace_map::decl(code, name, dir, kind, msb, lsb, -1), tracep->declQuad(code, fidx, name, msb, lsb))
#undef VL_TRACE_DECL_WIDE
#define VL_TRACE_DECL_WIDE(tracep, code, fidx, name, dtypenum, dir, kind, type, msb, lsb) \
    (qflow_trace_map::decl(code, name, dir, kind, msb, lsb, -1), tracep->declWide(code, fidx, name, msb, lsb))
#undef VL_TRACE_DECL_BIT_ARRAY
#define VL_TRACE_DECL_BIT_ARRAY(tracep, code, fidx, name, dtypenum, dir, kind, type, arraynum) \
    (qflow_trace_map::decl(code, name, dir, kind, 0, 0, arraynum), tracep->declBitArray(code, fidx, name, arraynum))
#undef VL_TRACE_DECL_BUS_ARRAY
#define VL_TRACE_DECL_BUS_ARRAY(tracep, code, fidx, name, dtypenum, dir, kind, type, arraynum, msb, lsb) \
    (qflow_trace_map::decl(code, name, dir, kind, msb, lsb, arraynum), \
     tracep->declBusArray(code, fidx, name, arraynum, msb, lsb))
#undef VL_TRACE_DECL_QUAD_ARRAY
#define VL_TRACE_DECL_QUAD_ARRAY(tracep, code, fidx, name, dtypenum, dir, kind, type, arraynum, msb, lsb) \
    (qflow_trace_map::decl(code, name, dir, kind, msb, lsb, arraynum), \
     tracep->declQuadArray(code, fidx, name, arraynum, msb, lsb))
#undef VL_TRACE_DECL_WIDE_ARRAY
#define VL_TRACE_DECL_WIDE_ARRAY(tracep, code, fidx, name, dtypenum, dir, kind, type, arraynum, msb, lsb) \
    (qflow_trace_map::decl(code, name, dir, kind, msb, lsb, arraynum), \
     tracep->declWideArray(code, fidx, name, arraynum, msb, lsb))
#endif  // QFLOW_TRACE_MAP_H_
"""

# The batch harness's clock driver (flow/rtl/templates/harness_main.cpp) plus SAIF tracing of qflow_accel only.
# Plusargs: +saif=<file> (output), +tracemap=<file> (declarations), +saif_until=<cycles> (stop early, 0: at done).
ACTIVITY_MAIN = r"""// Generated by qflow (flow.estimate.activity_build): batch-harness clock driver, SAIF of the DUT.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include "Vqflow_harness.h"
#include "verilated.h"
#include "verilated_saif_c.h"  // obj/verilated_saif_c.h: Verilator's, plus the trace-map hook

int main(int argc, char** argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    ctx->traceEverOn(true);
    auto top = std::make_unique<Vqflow_harness>(ctx.get());
    const char* arg = ctx->commandArgsPlusMatch("saif=");
    const std::string saif = (arg && *arg) ? std::string(arg + 6) : std::string("activity.saif");
    arg = ctx->commandArgsPlusMatch("saif_until=");
    const unsigned long long until = (arg && *arg) ? std::strtoull(arg + 12, nullptr, 10) : 0ULL;
    unsigned long long max_cycles = 2000000000ULL;
    if (const char* env = std::getenv("QFLOW_MAX_CYCLES")) max_cycles = std::strtoull(env, nullptr, 10);
    auto tfp = std::make_unique<VerilatedSaifC>();
    top->trace(tfp.get(), 99);
    tfp->dumpvars(99, "TOP.qflow_harness.dut");  // the accelerator only, not the harness
    tfp->open(saif.c_str());
    arg = ctx->commandArgsPlusMatch("tracemap=");
    if (arg && *arg && !qflow_trace_map::write(arg + 10)) {
        std::fprintf(stderr, "QFLOW_ERROR: cannot write %s\n", arg + 10);
        return 4;
    }
    top->clk = 0;
    top->eval();
    unsigned long long cycles = 0;
    tfp->dump(static_cast<uint64_t>(cycles));
    while (!top->done && !ctx->gotFinish() && cycles < max_cycles && (until == 0 || cycles < until)) {
        top->clk = 1; top->eval();
        top->clk = 0; top->eval();
        ++cycles;
        tfp->dump(static_cast<uint64_t>(cycles));  // one sample per cycle: settled values after the edge
    }
    tfp->close();
    top->final();
    std::printf("QFLOW_ACTIVITY cycles=%llu done=%d\n", cycles, static_cast<int>(top->done));
    if (until == 0 && !top->done) {
        std::fprintf(stderr, "QFLOW_ERROR: simulation stopped after %llu cycles without finishing\n", cycles);
        return 3;
    }
    return 0;
}
"""


def reset_release_cycles(harness_v: str) -> int:
    """Clock edges until the harness's reset is released (its ``if (cycle == k) rst_n <= 1'b1;`` gives k + 1)."""
    match = _RESET_RELEASE.search(harness_v)
    if match is None:
        raise ActivityError("harness.v: no \"if (cycle == k) rst_n <= 1'b1;\" found: cannot place the window "
                            "start (the harness template changed?)")
    return int(match.group(1)) + 1


TRACE_ARGS = ("--trace-saif", "--trace-max-width", str(1 << 24), "--trace-max-array", str(MAX_TRACED_ARRAY))


def trace_map_header() -> str:
    """``obj/verilated_saif_c.h``: Verilator's header (by absolute path) followed by :data:`TRACE_MAP_HOOK`."""
    result = proc.run([verilator_executable(), "--getenv", "VERILATOR_ROOT"])
    real = Path(result.stdout.strip()) / "include" / "verilated_saif_c.h"
    if result.returncode != 0 or not real.is_file():
        raise ActivityError(f"verilated_saif_c.h not found under 'verilator --getenv VERILATOR_ROOT' "
                            f"({result.stdout.strip() or result.stderr.strip()!r})")
    return ("// Generated by qflow (flow.estimate.activity_build): Verilator's SAIF header plus a hook that records\n"
            "// every traced declaration, so that SAIF nets that are one signal (one trace code) count once.\n"
            f'#include "{real}"\n' + TRACE_MAP_HOOK)


def memory_files(directory: Path) -> list[str]:
    """The ``*.mem`` files ``directory/top.v`` passes to its blocks as parameters (weights, thresholds)."""
    return sorted(set(re.findall(r'"([^"/\\]+\.mem)"', (Path(directory) / "top.v").read_text())))


def prepare(design, directory: Path) -> list[str]:
    """Copy ``design``'s Verilog, harness and memory files into ``directory`` and write the traced driver.

    ``design`` is a :class:`flow.rtl.generate.RtlDesign`. Returns the Verilog sources (relative to
    ``directory``) to build; memory files are the ``*.mem`` names that ``top.v`` passes as parameters.
    """
    src = Path(design.directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = [*design.sources, "harness.v", *memory_files(src)]
    for name in files:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, directory / name)
    write_driver(directory)
    return list(design.sources)


def write_driver(directory: Path) -> None:
    """Write the traced C++ driver (``activity_main.cpp``), the harness's binary file I/O (``harness_io.cpp``)
    and the hook (``obj/verilated_saif_c.h``)."""
    write_text(Path(directory) / "activity_main.cpp", ACTIVITY_MAIN)
    write_text(Path(directory) / "harness_io.cpp", (TEMPLATES / "harness_io.cpp").read_text())
    write_text(Path(directory) / "obj" / "verilated_saif_c.h", trace_map_header())


def build(directory: Path, sources: list[str], opt: str = "-O1") -> tuple[Path, bool]:
    """Build the traced harness in ``directory`` (``obj/Vqflow_harness``); return (binary, rebuilt).

    The build is skipped when ``build.json`` records the same sources, memory files, options and driver.
    """
    args = TRACE_ARGS
    digest = hashlib.sha256()
    for name in sorted([*sources, "harness.v", "harness_io.cpp", "activity_main.cpp", "obj/verilated_saif_c.h",
                        *memory_files(directory)]):
        digest.update(name.encode() + b"\0" + (directory / name).read_bytes() + b"\0")
    digest.update(json.dumps([opt, *args]).encode())
    stamp = {"inputs_sha256": digest.hexdigest()}
    binary = directory / "obj" / "Vqflow_harness"
    stamp_path = directory / "build.json"
    if binary.exists() and stamp_path.is_file() and json.loads(stamp_path.read_text()) == stamp:
        return binary, False
    if stamp_path.exists():
        stamp_path.unlink()
    try:
        binary = build_harness(directory, sources, opt=opt, extra_args=args, main="activity_main.cpp")
    except QflowError as exc:
        raise ActivityError(f"{directory}: traced (--trace-saif) build failed: {exc}") from exc
    write_json(stamp_path, stamp)
    return binary, True


__all__ = ["ACTIVITY_MAIN", "MAX_TRACED_ARRAY", "TRACE_ARGS", "TRACE_MAP_HOOK", "ActivityError", "build",
           "memory_files", "prepare", "reset_release_cycles", "trace_map_header", "write_driver"]
