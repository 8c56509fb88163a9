import pytest
import torch

from flow.errors import QuantSpecError
from flow.frontend.graph import is_power_of_two
from flow.qat import QAct, QLinear, binary, int_, parse, ternary, uint
from flow.qat.quant import Kind


@pytest.mark.parametrize(
    ("text", "kind", "bits"),
    [("binary", Kind.BINARY, 1), ("ternary", Kind.TERNARY, 2), ("int4", Kind.INT, 4), ("uint8", Kind.UINT, 8),
     (" INT2 ", Kind.INT, 2), ("float", Kind.FLOAT, 32)],
)
def test_parse_presets(text, kind, bits):
    spec = parse(text)
    assert (spec.kind, spec.bits) == (kind, bits)
    assert parse(spec) is spec


@pytest.mark.parametrize("text", ["int", "int0", "int1", "uint17", "binary2", "fp8", ""])
def test_parse_rejects_bad_presets(text):
    with pytest.raises(QuantSpecError):
        parse(text)


def test_constructors_match_parse():
    assert binary() == parse("binary") and ternary() == parse("ternary")
    assert int_(3) == parse("int3") and uint(5) == parse("uint5")


def test_binary_weights_are_plus_minus_one():
    layer = QLinear(16, 8, weight="binary")
    values = layer.quant_weight().value
    assert set(torch.unique(values).tolist()) <= {-1.0, 1.0}


def test_ternary_weights_are_in_set():
    layer = QLinear(16, 8, weight="ternary")
    with torch.no_grad():
        layer.weight.copy_(torch.linspace(-2, 2, 128).reshape(8, 16))
    assert set(torch.unique(layer.quant_weight().value).tolist()) == {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_int_weights_have_power_of_two_scale_and_narrow_range(bits):
    torch.manual_seed(0)
    layer = QLinear(32, 16, weight=f"int{bits}")
    qw = layer.quant_weight()
    assert is_power_of_two(qw.scale.detach().numpy())
    ints = (qw.value / qw.scale).detach()
    assert torch.equal(ints, torch.round(ints))
    assert ints.abs().max() <= 2 ** (bits - 1) - 1


def test_uint_activation_is_exact_fixed_point_in_eval():
    act = QAct("uint4", max_val=2.0).eval()
    y = act(torch.linspace(-1, 3, 50))
    scale = act.act_quant.scale().detach()
    assert is_power_of_two(scale.numpy())
    ints = y / scale
    assert torch.equal(ints, torch.round(ints))
    assert ints.min() == 0 and ints.max() == 15


def test_uint_weights_are_refused():
    with pytest.raises(QuantSpecError, match="signed"):
        QLinear(4, 4, weight="uint4")


def test_binary_activation_is_sign():
    act = QAct("binary").eval()
    assert act(torch.tensor([-0.3, 0.0, 2.0])).tolist() == [-1.0, 1.0, 1.0]
