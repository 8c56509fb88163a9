"""Switching-activity energy: the SAIF reader, the attribution of toggles to blocks, and real Verilator runs.

Hand-written SAIF snippets check parsing (nesting, bus bits escaped or not, escaped names, header fields,
errors); a tiny hand-written design built with the traced driver checks exact toggle counts and that a signal
seen from three scopes is counted once; a small generated accelerator checks the whole measurement.
"""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest

from flow.estimate.activity import (
    TOP_LEVEL,
    ActivityError,
    ToggleEnergy,
    TraceDecl,
    attribute,
    compare_with_operation_model,
    markdown_section,
    read_trace_map,
)
from flow.estimate.activity_build import build, reset_release_cycles, write_driver
from flow.estimate.saif import BitActivity, SaifError, parse_saif, read_saif, split_bit

SNIPPET = r"""// written by hand, in the shape simulators write
(SAIFILE
(SAIFVERSION "2.0")
(DIRECTION "backward")
(DESIGN )
(DATE "Mon Jan  1 00:00:00 2024")
(VENDOR "qflow tests")
(PROGRAM_NAME "hand")
(DIVIDER / )
(TIMESCALE 1 ns)
(DURATION 100)
(INSTANCE tb/dut
  (NET
    (valid (T0 60) (T1 40) (TX 0) (TC 7) (IG 0))
    (data\[0\] (T0 50) (T1 50) (TC 3))
    (data\[1\] (T1 10) (T0 90) (TC 2))
    (data[2] (T0 100) (T1 0) (TZ 0) (TX 0) (TB 0) (TC 0))
    (a\/b\[3\] (T0 1) (T1 99) (TC 1))
    (mem[0]\[1\] (T0 1) (T1 99) (TC 4))
    (q[2] (T0 1) (T1 99) (TC 5))
  )
  (PORT
    (clk (T0 50) (T1 50) (TC 200))
  )
  (INSTANCE "blk" u_blk
    (NET (acc\[0\] (T0 1) (T1 99) (TC 11)))
    (INSTANCE g_pe\[0\]
      (NET (x (T0 1) (T1 99) (TC 13)))
    )
  )
)
)
"""


def test_saif_snippet_header_nesting_bits_and_escapes():
    saif = parse_saif(SNIPPET)
    assert saif.duration == 100 and saif.timescale == "1 ns" and saif.header["DIVIDER"] == "/"
    assert saif.header["DATE"] == "Mon Jan  1 00:00:00 2024"
    assert set(saif.instances) == {("tb", "dut"), ("tb", "dut", "u_blk"), ("tb", "dut", "u_blk", "g_pe[0]")}
    nets = saif.instances[("tb", "dut")]
    assert set(nets) == {"valid", "data", "a/b", "mem[0]", "q", "clk"}  # PORT merged with NET
    assert nets["data"].width == 3 and nets["data"].toggles == 5
    assert nets["data"].bits[1].t1 == 10 and nets["data"].bits[2].tz == 0
    assert nets["valid"].bits[None].tc == 7 and nets["valid"].width == 1
    assert nets["a/b"].bits[3].tc == 1 and nets["mem[0]"].bits[1].tc == 4 and nets["q"].bits[2].tc == 5
    assert [name for name, _ in nets["data"].bit_names()] == ["data[0]", "data[1]", "data[2]"]
    counts = saif.toggle_counts()
    assert counts["tb/dut/u_blk/g_pe[0]"] == {"x": (1, 13)} and counts["tb/dut"]["clk"] == (1, 200)
    assert saif.total_toggles(("tb", "dut", "u_blk")) == 24
    assert saif.total_toggles() == 7 + 5 + 1 + 4 + 5 + 200 + 11 + 13


def test_fields_in_any_order_read_the_same():
    verilator_order = r"(v\[2\] (T0 90) (T1 10) (TZ 0) (TX 1) (TB 0) (TC 4))"  # as Verilator writes it
    other_order = r"(v\[2\] (TC 4) (TX 1) (T1 10) (T0 90))"
    a, b = (parse_saif(f'(SAIFILE (SAIFVERSION "2.0") (INSTANCE t (NET {entry})))').instances[("t",)]["v"]
            for entry in (verilator_order, other_order))
    assert a.bits == b.bits == {2: BitActivity(t0=90, t1=10, tx=1, tc=4)}


@pytest.mark.parametrize(("identifier", "expected"), [
    (r"data\[3\]", ("data", 3)), ("data[3]", ("data", 3)), (r"mem[0]\[5\]", ("mem[0]", 5)),
    ("q_mem[0]", ("q_mem", 0)), ("valid", ("valid", None)), (r"a\/b", ("a/b", None)), (r"\[7\]", ("[7]", None)),
])
def test_split_bit(identifier, expected):
    assert split_bit(identifier) == expected


@pytest.mark.parametrize(("text", "message"), [
    ('(SAIFILE (SAIFVERSION "2.0") (INSTANCE t (NET (a (T0 1) (TC 1)) (a (T0 1) (TC 2)))))', "listed twice"),
    ('(SAIFILE (SAIFVERSION "2.0") (INSTANCE t (NET (a (COND x) (TC 1)))))', "unsupported"),
    ('(SAIFILE (SAIFVERSION "2.0") (INSTANCE t (NET (a (T0 1) (TQ 1)))))', "unknown field TQ"),
    ('(SAIFILE (SAIFVERSION "2.0") (INSTANCE t (NET (a (T0 1) (TC 1)))', "truncated"),
    ('(SAIFILE (SAIFVERSION "2.0") (DIRECTION "forward"))', "only backward"),
    ('(SAIFILE (DURATION 5))', "no (SAIFVERSION"),
    ('(SAIFILE (SAIFVERSION "2.0") (INSTANCE t (a (T0 1) (TC 1))))', "outside a NET"),
    ("(INSTANCE t)", "expected (SAIFILE"),
])
def test_saif_errors_name_the_problem(text, message):
    with pytest.raises(SaifError, match=message.replace("(", r"\(")):
        parse_saif(text, "x.saif")


def test_saif_error_gives_file_and_line():
    with pytest.raises(SaifError, match=r"^bad\.saif:3: "):
        parse_saif('(SAIFILE (SAIFVERSION "2.0")\n(INSTANCE t\n  (LEAF c)))', "bad.saif")


def test_toggle_energy():
    e = ToggleEnergy()
    assert e.pj_per_toggle == pytest.approx(0.5 * 1e-15 * 0.9**2 * 1e12)  # 0.405 fJ
    assert ToggleEnergy(2.0, 1.0).pj_per_toggle == pytest.approx(1e-3)
    assert "0.405 fJ" in e.describe() and "assumed" in e.describe()


def _decl(code, scope, name, width=1, direction="none", kind="wire"):
    return TraceDecl(code, direction, kind, width, ("qflow_harness", "dut", *scope), name)


def _saif(nets: dict[tuple[str, ...], str]) -> str:
    body = "".join(f"(INSTANCE {name}\n" for name in ("TOP", "qflow_harness", "dut"))
    blocks = []
    for scope, lines in nets.items():
        inner = f"(NET {lines})"
        for name in reversed(scope):
            inner = f"(INSTANCE {name} {inner})"
        blocks.append(inner)
    return f'(SAIFILE (SAIFVERSION "2.0") (DIVIDER / ) (DURATION 10)\n{body}' + "\n".join(blocks) + ")))\n)"


def test_attribute_counts_each_signal_once_in_its_driver_minus_the_start():
    # Signal 1 (2 bits) is seen at the top level, as mvau_0's output port and thresholding_1's input port.
    decls = [
        _decl(1, (), "s1_tdata", 2), _decl(1, ("mvau_0",), "m_axis_tdata", 2, "output"),
        _decl(1, ("thresholding_1",), "s_axis_tdata", 2, "input"),
        _decl(2, ("mvau_0", "g_pe[0]"), "acc", 3, kind="var"),
        _decl(3, ("mvau_0",), "PE", 32, kind="parameter"),
        _decl(4, (), "clk", direction="input"), _decl(4, ("mvau_0",), "clk", direction="input"),
        _decl(5, ("thresholding_1",), "q_mem[0]", 1, kind="var"),  # 1-bit array element: no bit index in SAIF
        _decl(6, (), "s0_tdata", 2),
    ]
    both = {
        (): r"(s1_tdata\[0\] (TC 9)) (s1_tdata\[1\] (TC 4)) (clk (TC 0)) (s0_tdata\[0\] (TC 3)) (s0_tdata\[1\] (TC 0))",
        ("mvau_0",): r"(m_axis_tdata\[0\] (TC 9)) (m_axis_tdata\[1\] (TC 4)) (clk (TC 0)) (PE\[0\] (TC 1))",
        ("mvau_0", r"g_pe\[0\]"): r"(acc\[0\] (TC 5)) (acc\[1\] (TC 2)) (acc\[2\] (TC 1))",
        ("thresholding_1",): r"(s_axis_tdata\[0\] (TC 9)) (s_axis_tdata\[1\] (TC 4)) (q_mem[0] (TC 6))",
    }
    start = {  # the same signals when reset is released: what the window must not count
        (): r"(s1_tdata\[0\] (TC 1)) (s1_tdata\[1\] (TC 4)) (clk (TC 0)) (s0_tdata\[0\] (TC 1)) (s0_tdata\[1\] (TC 0))",
        ("mvau_0",): r"(m_axis_tdata\[0\] (TC 1)) (m_axis_tdata\[1\] (TC 4)) (clk (TC 0)) (PE\[0\] (TC 1))",
        ("mvau_0", r"g_pe\[0\]"): r"(acc\[0\] (TC 1)) (acc\[1\] (TC 2)) (acc\[2\] (TC 1))",
        ("thresholding_1",): r"(s_axis_tdata\[0\] (TC 1)) (s_axis_tdata\[1\] (TC 4)) (q_mem[0] (TC 1))",
    }
    blocks, counts = attribute(parse_saif(_saif(both)), parse_saif(_saif(start)), decls)
    assert set(blocks) == {"mvau_0", "thresholding_1", TOP_LEVEL}
    # The start run's toggles are subtracted bit by bit: tdata (9 - 1) + (4 - 4), acc (5 - 1) + 0 + 0; the
    # parameter PE and the input-only clk are not counted, the tdata seen in three scopes only once.
    assert blocks["mvau_0"].toggles == 8 + 4 and blocks["mvau_0"].bits == 2 + 3
    assert blocks["thresholding_1"].toggles == 6 - 1 and blocks["thresholding_1"].bits == 1  # q_mem[0]
    assert blocks[TOP_LEVEL].toggles == 3 - 1 and blocks[TOP_LEVEL].bits == 2
    assert counts["parameters_skipped"] == 1 and counts["input_only_bits_skipped"] == 1


def test_attribute_refuses_unknown_nets_and_shrinking_counts():
    decls = [_decl(1, (), "a", 1)]
    full = parse_saif(_saif({(): "(a (TC 3)) (b (TC 1))"}))
    with pytest.raises(ActivityError, match="no recorded declaration"):
        attribute(full, full, decls)
    with pytest.raises(ActivityError, match="fewer toggles"):
        attribute(parse_saif(_saif({(): "(a (TC 3))"})), parse_saif(_saif({(): "(a (TC 4))"})), decls)
    with pytest.raises(ActivityError, match="not in the SAIF"):
        attribute(parse_saif(_saif({(): "(a (TC 3))"})), full, [*decls, _decl(2, (), "c", 1)])


def test_trace_map_file(tmp_path):
    path = tmp_path / "map.tsv"
    path.write_text("7\toutput\twire\t3\t0\t-1\tqflow_harness dut mvau_0 m_axis_tdata\n"
                    "9\tnone\tvar\t0\t7\t2\tqflow_harness dut fifo_2 mem\n")
    a, b = read_trace_map(path)
    assert a == TraceDecl(7, "output", "wire", 4, ("qflow_harness", "dut", "mvau_0"), "m_axis_tdata")
    assert b.name == "mem[2]" and b.width == 8 and b.kind == "var"
    path.write_text("7\toutput\n")
    with pytest.raises(ActivityError, match=r"map\.tsv:1: expected 7"):
        read_trace_map(path)


def test_window_start_matches_the_harness_template():
    template = (Path(__file__).parents[1] / "flow" / "rtl" / "templates" / "harness.v.j2").read_text()
    assert reset_release_cycles(template) == 5
    with pytest.raises(ActivityError, match="window"):
        reset_release_cycles("module m; endmodule")


def test_side_by_side_and_markdown():
    op = {"layers": [{"layer": "fc0", "total_pj": 10.0, "compute_pj": 4.0},
                     {"layer": "fc0_thresholds", "total_pj": 1.0, "compute_pj": 0.5}],
          "total_pj": 11.0, "compute_pj": 4.5}
    act = {"layers": [{"layer": "fc0", "pj": 2.0, "toggles_per_inference": 5000.0}],
           "top_level": {"pj": 0.1, "toggles_per_inference": 250.0}, "total_pj": 2.1, "toggles_per_inference": 5250.0,
           "how": "simulated", "assumptions": "C = 1 fF", "window": {"cycles": 640, "cycles_per_inference": 64.0},
           "seconds": {"total": 3.0}, "outputs_differing": 0}
    side = compare_with_operation_model(op, act)
    assert list(side) == ["fc0", "fc0_thresholds", TOP_LEVEL]
    assert side["fc0"] == {"op_model_pj": 10.0, "op_model_compute_pj": 4.0, "activity_pj": 2.0,
                           "toggles_per_inference": 5000.0}
    assert side["fc0_thresholds"]["activity_pj"] is None and side[TOP_LEVEL]["op_model_pj"] is None
    text = "\n".join(markdown_section(op, act))
    assert "| fc0 | 10.00 | 4.00 | 2.00 | 5,000 | 0.2 | 0.5 |" in text
    assert "| **total** | 11.00 | 4.50 | 2.10 | 5,250 |" in text and "C = 1 fF" in text


def test_html_report_shows_the_activity_next_to_the_model():
    import json

    from report_page import Page, lookup

    from flow.report.html import render_html

    report = json.loads((Path(__file__).parent / "data" / "report_tfc_w1a1.json").read_text())
    layers = [{"layer": e["layer"], "blocks": [], "toggles_per_inference": 1000.0 * (i + 1), "bits": 10,
               "pj": 0.405 * (i + 1)} for i, e in enumerate(report["energy"]["layers"])]
    report["energy_activity"] = {
        "how": "simulated switching activity", "assumptions": "E_toggle = 0.405 fJ", "inferences": 200,
        "outputs_differing": 0, "layers": layers, "top_level": {"toggles_per_inference": 138.0, "pj": 0.0559},
        "total_pj": sum(e["pj"] for e in layers) + 0.0559,
        "toggles_per_inference": sum(e["toggles_per_inference"] for e in layers) + 138.0}
    page = Page(render_html({"report.json": report}))
    assert "Switching activity" in page.sections["energy"] and not page.unbalanced
    shown = {key: text for src, key, _, _, text in page.numbers if key.startswith("energy_activity.")}
    assert {"energy_activity.total_pj", "energy_activity.top_level.pj", "energy_activity.layers.0.pj",
            f"energy_activity.layers.{len(layers) - 1}.toggles_per_inference"} <= set(shown)
    for src, key, digits, scale, text in page.numbers:  # every number on the page equals its JSON key
        expected = lookup(report, key) * scale
        assert src == "report.json" and abs(float(text.replace(",", "")) - expected) <= 0.5 * 10**-digits + 1e-9, key


# -- real Verilator runs -------------------------------------------------------------------------------------------

TINY_TOP = """`default_nettype none
module counter #(parameter integer W = 4) (input wire clk, input wire rst_n, output reg [W-1:0] q);
    always @(posedge clk) if (!rst_n) q <= 0; else q <= q + 1'b1;
endmodule
module sink (input wire clk, input wire [3:0] d, output reg p);
    always @(posedge clk) p <= ^d;
endmodule
module tiny (input wire clk, input wire rst_n, output wire p);
    wire [3:0] count;
    counter #(.W(4)) u_count (.clk(clk), .rst_n(rst_n), .q(count));
    sink u_sink (.clk(clk), .d(count), .p(p));
endmodule
`default_nettype wire
"""
TINY_HARNESS = """module qflow_harness (input wire clk, output reg done);
    integer cycle;
    reg rst_n;
    wire p;
    initial begin cycle = 0; rst_n = 1'b0; done = 1'b0; end
    always @(posedge clk) begin
        cycle <= cycle + 1;
        if (cycle == 4) rst_n <= 1'b1;
        if (cycle == 68) done <= 1'b1;
    end
    tiny dut (.clk(clk), .rst_n(rst_n), .p(p));
endmodule
"""


@pytest.mark.sim
def test_traced_build_of_a_tiny_design_gives_exact_toggles(tmp_path):
    (tmp_path / "top.v").write_text(TINY_TOP)
    (tmp_path / "harness.v").write_text(TINY_HARNESS)
    write_driver(tmp_path)
    binary, rebuilt = build(tmp_path, ["top.v"], "-O0")
    assert rebuilt and build(tmp_path, ["top.v"], "-O0") == (binary, False)  # second call: cached
    start = reset_release_cycles(TINY_HARNESS)
    for args in (["+saif=full.saif", "+tracemap=map.tsv"], ["+saif=start.saif", f"+saif_until={start}"]):
        subprocess.run([str(binary.resolve()), *args], cwd=tmp_path, check=True, capture_output=True)
    full, first = read_saif(tmp_path / "full.saif"), read_saif(tmp_path / "start.saif")
    assert full.header["PROGRAM_NAME"] == "Verilator" and full.duration == 69 and first.duration == start
    dut = ("TOP", "qflow_harness", "dut")
    raw = full.toggle_counts()
    # The counter's 4 bits, seen as dut/count, u_count/q and u_sink/d: 64 increments after reset.
    assert raw["TOP/qflow_harness/dut/u_count"]["q"][0] == 4
    assert {raw[p][n][1] for p, n in (("TOP/qflow_harness/dut", "count"), ("TOP/qflow_harness/dut/u_sink", "d"))} \
        == {raw["TOP/qflow_harness/dut/u_count"]["q"][1]}
    decls = read_trace_map(tmp_path / "map.tsv")
    codes = {d.code for d in decls if d.name in ("count", "q", "d")}
    assert len(codes) == 1  # one signal, one trace code
    blocks, counts = attribute(full, first, decls)
    assert blocks["u_count"].toggles == 64 + 32 + 16 + 8 and blocks["u_count"].bits == 4
    q = [k % 16 for k in range(65)]  # the counter sampled at cycles 5 .. 69 (it counts from cycle 6 on)
    parity = [0] + [bin(v).count("1") % 2 for v in q[:-1]]  # p registers the previous cycle's parity
    assert blocks["u_sink"].toggles == sum(a != b for a, b in itertools.pairwise(parity))
    assert counts["parameters_skipped"] >= 1 and counts["input_only_bits_skipped"] >= 2  # W; clk, rst_n
    assert full.total_toggles(dut) > sum(b.toggles for b in blocks.values())  # the raw SAIF repeats aliases


def _small_design(tmp_path: Path):
    from torch import nn

    from flow.export import export_qonnx
    from flow.qat import QAct, QLinear, seed_everything
    from flow.stages.compile import convert

    seed_everything(0)
    model = nn.Sequential(QAct("uint4"), QLinear(32, 16, "int4"), nn.BatchNorm1d(16), QAct("uint4"),
                          QLinear(16, 10, "int4")).eval()
    hls_model = convert(export_qonnx(model, (32,), tmp_path / "m.onnx"), tmp_path / "rtl",
                        layer_folding={"Dense_MatMul_0": (4, 32), "Dense_MatMul_1": (5, 4)})  # 1 input beat
    backend = hls_model.config.backend
    return backend.network(hls_model), backend.write(hls_model)


@pytest.mark.sim
@pytest.mark.slow  # ~40 s: export, convert, traced build, four runs
def test_measure_activity_on_a_generated_accelerator(tmp_path):
    from flow.estimate.activity import measure_activity
    from flow.estimate.energy import network_energy
    from flow.rtl.generate import pack_input_beats

    net, design = _small_design(tmp_path)
    rng = np.random.default_rng(0)
    x_int = net.quantize_input(rng.uniform(0, 1, size=(30, 32)).astype(np.float32))
    random = measure_activity(net, design, x_int, net.run(x_int), tmp_path / "activity", inferences=30, opt="-O0")
    assert random["outputs_differing"] == 0 and random["inferences"] == 30
    assert [b["instance"] for b in random["blocks"]] == [b["instance"] for b in design.interface["blocks"]]
    op_layers = [e["layer"] for e in network_energy(net)["layers"]]
    assert [e["layer"] for e in random["layers"]] == op_layers
    layer_sum = sum(e["toggles_per_inference"] for e in random["layers"])
    assert layer_sum + random["top_level"]["toggles_per_inference"] == pytest.approx(random["toggles_per_inference"])
    assert random["total_pj"] == pytest.approx(random["toggles_per_inference"] * ToggleEnergy().pj_per_toggle)
    assert all(b["toggles_per_inference"] > 0 for b in random["blocks"] if b["module"] == "mvau")
    assert random["window"]["first_cycle"] == 5 and random["window"]["cycles"] > 30 * design.cycles_per_inference

    same = np.repeat(x_int[:1], 30, axis=0)  # one input (one beat) 30 times: the input data never changes
    constant = measure_activity(net, design, same, net.run(same), tmp_path / "activity", inferences=30, opt="-O0")
    assert constant["seconds"]["rebuilt"] is False and constant["outputs_differing"] == 0
    # Left at the input: valid/ready edges at the window's ends, and the harness's data bus moving off the one
    # beat after it was sent (to an unloaded, zero stimulus word): at most the beat's 1-bits.
    limit = bin(pack_input_beats(net, same[:1])[0]).count("1") + 4
    assert 0 < constant["top_level"]["toggles_per_inference"] * 30 <= limit
    assert random["top_level"]["toggles_per_inference"] * 30 > 10 * limit
    assert constant["toggles_per_inference"] < random["toggles_per_inference"]
