"""What a sweep runs: the models, the foldings, the stages per point and the objectives (:class:`SweepSpec`),
read from a TOML file (:func:`load_spec`) or built from CLI options (:func:`spec_from_options`).

A spec file::

    name = "digits"                         # build/sweeps/<name>/ (default: the file's name without .toml)
    models = ["mlp_w4a4_digits", "my.onnx"] # recipe names, recipe .py paths, QONNX files (relative to the file)
    foldings = ["parallel", "folded", 256]  # 'parallel', 'folded' or target cycles per inference
    target_cycles = [1024]                  # more foldings, the same as integers in `foldings`
    pipelines = ["none", "auto"]            # register stages (default: each recipe's own); one point per value
    objectives = ["LUT", "cycles_per_inference", "energy_pj"]

    [stages]
    simulate = 20            # test inputs per point through Verilator, outputs == golden (0: off)
    yosys = true             # Yosys synth_xilinx per point (false: lanes stand in for LUTs)
    max_synth_lanes = 16384
    yosys_timeout = 900
    pnr = false              # place and route each point (Yosys synth_ecp5 + nextpnr-ecp5): Fmax, inferences/s
    pnr_device = "85k"       # LFE5U-25F/45F/85F
    pnr_freq = 100           # target clock, MHz

    [dask]
    scheduler = "tcp://host:8786"   # an existing cluster (default: a LocalCluster on this machine)
    workers = 4                     # LocalCluster worker processes (default: one per core; 0: serial)

Every string is parsed here, once; a bad value raises :class:`SweepError` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from flow.compile.folding import Folding as TypedFolding
from flow.compile.pipeline import Pipeline
from flow.errors import QflowError, UnsupportedError

__all__ = [
    "DEFAULT_FOLDINGS", "MAXIMIZED", "MAX_SYNTH_LANES", "OBJECTIVES", "PNR_DEVICES", "YOSYS_TIMEOUT_S", "FoldValue",
    "SweepError", "SweepSpec",
    "build_spec", "cli_foldings", "folding_label", "load_spec", "parse_folding", "parse_foldings",
    "spec_from_options",
]

FoldValue = str | int  # a folding as users write it (one sweep point's label comes from it)
DEFAULT_FOLDINGS: tuple[FoldValue, ...] = ("parallel", 16, "folded", 256, 1024)
# Above this many lanes Yosys (WebAssembly) runs for many minutes: fully parallel tfc_w1a1 has 59,008 lanes,
# 64x the folded design's (922) in its first layer, and the folded design takes ~40 s. Such rows are listed
# as not synthesized unless the limit is raised.
MAX_SYNTH_LANES = 16384
YOSYS_TIMEOUT_S = 900
#: Figures a Pareto front can be taken over; all are minimized except ``accuracy`` (maximized).
OBJECTIVES = ("LUT", "FF", "lanes", "cycles_per_inference", "latency_cycles", "energy_pj", "accuracy", "fmax_mhz",
              "inferences_per_s")
#: Objectives that are maximized (the others are minimized).
MAXIMIZED = ("accuracy", "fmax_mhz", "inferences_per_s")
#: ECP5 devices a point may be placed on (``stages.pnr_device``).
PNR_DEVICES = ("25k", "45k", "85k")
_TOP_KEYS = {"name", "models", "foldings", "target_cycles", "pipelines", "objectives", "stages", "dask"}
_STAGE_KEYS = {"simulate", "yosys", "max_synth_lanes", "yosys_timeout", "pnr", "pnr_device", "pnr_freq"}
_DASK_KEYS = {"scheduler", "workers"}


class SweepError(QflowError):
    """A sweep was given something it cannot run."""


def parse_folding(text: str | int) -> FoldValue:
    """``"parallel"`` | ``"folded"`` | a positive integer (target cycles per inference)."""
    try:
        return TypedFolding.parse(text).as_value()
    except UnsupportedError as exc:
        raise SweepError(str(exc)) from None


def folding_label(folding: FoldValue) -> str:
    """Directory-safe name of a folding: ``parallel``, ``folded``, ``c256``."""
    return folding if isinstance(folding, str) else f"c{folding}"


def _unique(foldings: list[FoldValue], what: str, given: object) -> list[FoldValue]:
    if not foldings:
        raise SweepError(f"{what}: expected a list such as 'parallel,folded,256', got {given!r}")
    labels = [folding_label(f) for f in foldings]
    if len(set(labels)) != len(labels):
        raise SweepError(f"{what}: each folding once, got {given!r}")
    return foldings


def parse_foldings(text: str, what: str = "--foldings") -> list[FoldValue]:
    """A comma-separated list of foldings, e.g. ``"parallel,folded,256"`` (duplicates refused)."""
    return _unique([parse_folding(part) for part in text.split(",") if part.strip()], what, text)


def default_objectives(yosys: bool) -> tuple[str, ...]:
    """Area (LUT when synthesized, else lanes), cycles per inference, energy per inference."""
    return ("LUT" if yosys else "lanes", "cycles_per_inference", "energy_pj")


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep: every point is one model at one folding, run through the same stages.

    ``models`` are recipe names, recipe ``.py`` paths or ``.onnx`` paths (paths absolute). ``objectives``
    name row figures (:data:`OBJECTIVES`). ``scheduler``/``workers`` are the spec's execution wishes (the
    CLI's options and ``QFLOW_DASK_SCHEDULER`` override them)."""

    name: str
    models: tuple[str, ...]
    foldings: tuple[FoldValue, ...] = DEFAULT_FOLDINGS
    pipelines: tuple[str, ...] = ()  # register-stage settings (labels); empty: each model's own
    simulate: int = 0
    yosys: bool = True
    max_synth_lanes: int = MAX_SYNTH_LANES
    yosys_timeout: int = YOSYS_TIMEOUT_S
    pnr: bool = False
    pnr_device: str = "85k"
    pnr_freq: float = 100.0
    objectives: tuple[str, ...] = field(default=())
    scheduler: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if not self.models:
            raise SweepError(f"sweep {self.name!r}: no models (expected recipe names, recipe .py or .onnx files)")
        _unique(list(self.foldings), f"sweep {self.name!r}: foldings", list(self.foldings))
        object.__setattr__(self, "pipelines", parse_pipelines(self.pipelines, f"sweep {self.name!r}: pipelines"))
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise SweepError(f"sweep name: expected a directory name, got {self.name!r}")
        for key, value in (("simulate", self.simulate), ("max_synth_lanes", self.max_synth_lanes),
                           ("yosys_timeout", self.yosys_timeout)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SweepError(f"sweep {self.name!r}: {key}: expected an integer >= 0, got {value!r}")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 0):
            raise SweepError(f"sweep {self.name!r}: workers: expected an integer >= 0, got {self.workers!r}")
        if not self.objectives:
            object.__setattr__(self, "objectives", default_objectives(self.yosys))
        bad = [o for o in self.objectives if o not in OBJECTIVES]
        if bad or len(self.objectives) < 2:
            raise SweepError(f"sweep {self.name!r}: objectives: expected two or more of {', '.join(OBJECTIVES)}, "
                             f"got {list(self.objectives)}")
        self._check_pnr()
        if not self.yosys and {"LUT", "FF"} & set(self.objectives):
            raise SweepError(f"sweep {self.name!r}: objectives LUT/FF need Yosys (stages.yosys = true / no "
                             f"--no-synth), got {list(self.objectives)}")

    def _check_pnr(self) -> None:
        if not isinstance(self.pnr, bool):
            raise SweepError(f"sweep {self.name!r}: pnr: expected true or false, got {self.pnr!r}")
        if self.pnr_device not in PNR_DEVICES:
            raise SweepError(f"sweep {self.name!r}: pnr_device: expected one of {', '.join(PNR_DEVICES)}, got "
                             f"{self.pnr_device!r}")
        if isinstance(self.pnr_freq, bool) or not isinstance(self.pnr_freq, int | float) \
                or not 1 <= self.pnr_freq <= 1000:
            raise SweepError(f"sweep {self.name!r}: pnr_freq: expected a clock in MHz in [1, 1000], got "
                             f"{self.pnr_freq!r}")
        if not self.pnr and {"fmax_mhz", "inferences_per_s"} & set(self.objectives):
            raise SweepError(f"sweep {self.name!r}: objectives fmax_mhz/inferences_per_s need place and route "
                             f"(stages.pnr = true / --pnr), got {list(self.objectives)}")

    @property
    def points(self) -> int:
        return len(self.models) * len(self.foldings) * max(1, len(self.pipelines))


def _model_ref(text: str, base: Path | None) -> str:
    """A recipe name stays a name; a path (``.py``/``.onnx`` or with a slash) becomes absolute."""
    if text.endswith((".py", ".onnx")) or "/" in text:
        path = Path(text).expanduser()
        return str((base / path if base and not path.is_absolute() else path).resolve())
    return text


def _table(data: dict, key: str, allowed: set[str], where: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise SweepError(f"{where}: [{key}]: expected a table, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise SweepError(f"{where}: [{key}]: unknown key(s) {unknown}; expected some of {sorted(allowed)}")
    return value


def _spec_foldings(data: dict, where: str) -> tuple[FoldValue, ...]:
    foldings: list[FoldValue] = []
    for key in ("foldings", "target_cycles"):
        values = data.get(key, [])
        if not isinstance(values, list):
            raise SweepError(f"{where}: {key}: expected a list, got {values!r}")
        if key == "target_cycles" and any(not isinstance(v, int) or isinstance(v, bool) for v in values):
            raise SweepError(f"{where}: target_cycles: expected positive integers, got {values!r}")
        foldings += [parse_folding(v) for v in values]
    return tuple(foldings) if foldings else DEFAULT_FOLDINGS


def load_spec(path: str | Path) -> SweepSpec:
    """Read a TOML sweep spec (format in the module docstring); unknown keys and bad values are refused."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SweepError(f"{path}: cannot read the sweep spec ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepError(f"{path}: expected a TOML sweep spec, got a syntax error ({exc})") from None
    where = str(path)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(_TOP_KEYS)}")
    models = data.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise SweepError(f"{where}: models: expected a list of recipe names or file paths, got {models!r}")
    stages = _table(data, "stages", _STAGE_KEYS, where)
    dask = _table(data, "dask", _DASK_KEYS, where)
    if not isinstance(stages.get("yosys", True), bool):
        raise SweepError(f"{where}: stages.yosys: expected true or false, got {stages['yosys']!r}")
    try:
        return SweepSpec(
            name=str(data.get("name", path.name.removesuffix(".toml"))),
            models=tuple(_model_ref(m, path.parent) for m in models), foldings=_spec_foldings(data, where),
            pipelines=data.get("pipelines", ()),
            simulate=stages.get("simulate", 0), yosys=stages.get("yosys", True),
            max_synth_lanes=stages.get("max_synth_lanes", MAX_SYNTH_LANES),
            yosys_timeout=stages.get("yosys_timeout", YOSYS_TIMEOUT_S),
            pnr=stages.get("pnr", False), pnr_device=str(stages.get("pnr_device", "85k")),
            pnr_freq=stages.get("pnr_freq", 100.0),
            objectives=tuple(data.get("objectives", ())), scheduler=dask.get("scheduler"), workers=dask.get("workers"),
        )
    except SweepError as exc:
        raise SweepError(f"{where}: {exc}") from None


def spec_from_options(models: list[str], name: str | None = None, **options: object) -> SweepSpec:
    """A spec from CLI-style arguments: ``models`` as given on the command line, ``options`` any of
    :class:`SweepSpec`'s fields (``None`` values are left at their defaults). The name defaults to the first
    model's (a recipe name or file name without suffix)."""
    refs = tuple(_model_ref(m, None) for m in models)
    if name is None and refs:
        name = Path(refs[0]).name.removesuffix(".py").removesuffix(".onnx").removesuffix(".qonnx")
    given = {k: v for k, v in options.items() if v is not None}
    return SweepSpec(name=name or "sweep", models=refs, **given)  # type: ignore[arg-type]


def parse_pipelines(values: object, what: str = "--pipelines") -> tuple[str, ...]:
    """Register-stage settings (``"none"``, ``"auto"``, fan-ins; a list or comma-separated text) as their labels,
    each once; :class:`SweepError` naming ``what`` for a bad one."""
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    if not isinstance(values, list | tuple):
        raise SweepError(f"{what}: expected a list of 'none', 'auto' or fan-ins >= 2, got {values!r}")
    try:
        labels = [Pipeline.parse(v).label for v in values]
    except UnsupportedError as exc:
        raise SweepError(f"{what}: {exc}") from None
    if len(set(labels)) != len(labels):
        raise SweepError(f"{what}: each setting once, got {list(values)!r}")
    return tuple(labels)


def cli_foldings(foldings: str | None, target_cycles: str | None) -> tuple[FoldValue, ...] | None:
    """``--foldings`` and ``--target-cycles`` (comma-separated) together; ``None`` when neither is given."""
    if foldings is None and target_cycles is None:
        return None
    values = parse_foldings(foldings) if foldings is not None else []
    if target_cycles is not None:
        cycles = parse_foldings(target_cycles, "--target-cycles")
        if any(isinstance(c, str) for c in cycles):
            raise SweepError(f"--target-cycles: expected positive integers, got {target_cycles!r}")
        values += cycles
    return tuple(_unique(values, "--foldings/--target-cycles", values))


def build_spec(targets: list[str], name: str | None = None, **options: object) -> SweepSpec:
    """The spec of ``qflow sweep TARGET...``: one ``.toml`` file, its values replaced by the ``options`` given
    (not ``None``); or models (recipe names, ``.py``, ``.onnx``) with the options (:func:`spec_from_options`)."""
    if not any(t.endswith(".toml") for t in targets):
        return spec_from_options(targets, name, **options)
    if len(targets) != 1:
        raise SweepError(f"qflow sweep: expected one .toml spec or recipes/.onnx files, got {targets}")
    spec = load_spec(targets[0])
    given = {k: v for k, v in options.items() if v is not None} | ({"name": name} if name else {})
    if "objectives" not in given and spec.objectives == default_objectives(spec.yosys):
        given["objectives"] = ()  # the defaults follow --no-synth
    return dataclasses.replace(spec, **given)
