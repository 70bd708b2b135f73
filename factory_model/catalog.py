"""Catalogs: systems, models, precisions and workloads, loaded from ``data/*.yaml``.

Every number in a catalog carries its provenance, either on the number itself::

    hbm_bandwidth_tb_s: {value: 4.8, source: "specs §1.2 [AIC-H200]"}
    capex_usd_per_gpu: {value: 52000, assumption: "why this value"}

or on the block that contains it (``source:``/``assumption:`` next to the numbers). A number without either,
a missing field, or a value of the wrong type fails loudly at load time with the file and key named.
The loaded objects keep each field's provenance in ``sources`` (field path -> text), so the CLI, the
dashboard and the methodology page can show where any number came from.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import CatalogError, FactoryModelError, unknown_id_message

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

PROVENANCE_KEYS = ("source", "assumption")


# --------------------------------------------------------------------------------------------------------------
# Reading sourced YAML


def read_yaml(path: Path) -> dict:
    """Parse a YAML mapping, turning every failure into a :class:`CatalogError` naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"{path}: file not found") from None
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise CatalogError(f"{path}: malformed YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: expected a mapping of ids to entries at the top level")
    return data


def _provenance(mapping: dict) -> str | None:
    if "source" in mapping and "assumption" in mapping:
        return None
    if "source" in mapping:
        return str(mapping["source"])
    if "assumption" in mapping:
        return "assumption: " + str(mapping["assumption"])
    return None


def flatten_sourced(entry: dict, where: str, inherited: str | None = None) -> dict[str, tuple[Any, str | None]]:
    """Flatten one catalog entry to ``{"a.b.c": (value, provenance)}``.

    ``{value: x, source: s}`` becomes one leaf; a mapping with ``source``/``assumption`` next to other keys
    passes its provenance down to them. Text, booleans and lists of text need no provenance (names, flags);
    every number does, and a number without it raises :class:`CatalogError`.
    """
    out: dict[str, tuple[Any, str | None]] = {}
    for key, value in entry.items():
        if key in PROVENANCE_KEYS or (isinstance(key, str) and key.endswith("_source")):
            continue
        path = f"{where}.{key}"
        if isinstance(value, dict) and "value" in value:
            prov = _provenance(value)
            if prov is None:
                raise CatalogError(f"{path}: a value needs exactly one of 'source' or 'assumption'")
            unknown = set(value) - {"value", "source", "assumption", "note"}
            if unknown:
                raise CatalogError(f"{path}: unexpected keys {sorted(unknown)}")
            out[key] = (value["value"], prov)
        elif isinstance(value, dict):
            prov = _provenance(value) or inherited
            if "source" in value and "assumption" in value:
                raise CatalogError(f"{path}: give either 'source' or 'assumption', not both")
            for sub, leaf in flatten_sourced(value, path, prov).items():
                out[f"{key}.{sub}"] = leaf
        else:
            if _is_number(value) and inherited is None:
                raise CatalogError(f"{path}: number {value!r} has no source (add source: or assumption:)")
            sibling = entry.get(f"{key}_source")
            out[key] = (value, str(sibling) if sibling else inherited)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Fields:
    """Typed access to a flattened entry, with errors that name file, entry and key."""

    def __init__(self, flat: dict[str, tuple[Any, str | None]], where: str):
        self.flat = flat
        self.where = where
        self.used: set[str] = set()

    def _get(self, key: str, required: bool = True):
        if key not in self.flat:
            if required:
                raise CatalogError(f"{self.where}: missing required field '{key}'")
            return None
        self.used.add(key)
        return self.flat[key][0]

    def number(self, key: str, *, required: bool = True, default: float | None = None, positive: bool = True,
               allow_null: bool = False, integer: bool = False) -> float | None:
        value = self._get(key, required=required and default is None)
        if value is None:
            if key in self.flat and not allow_null:
                raise CatalogError(f"{self.where}.{key}: expected a number, got null")
            return default
        if not _is_number(value) or not math.isfinite(value) or abs(value) >= 2**53:
            shown = repr(value) if not _is_number(value) or abs(value) < 2**53 else "a number of 2^53 or more"
            raise CatalogError(f"{self.where}.{key}: expected a finite number below 2^53, got {shown[:40]}")
        if positive and value <= 0:
            raise CatalogError(f"{self.where}.{key}: must be positive, got {value!r}")
        if not positive and value < 0:
            raise CatalogError(f"{self.where}.{key}: must not be negative, got {value!r}")
        if integer:
            if float(value) != int(value):
                raise CatalogError(f"{self.where}.{key}: expected a whole number, got {value!r}")
            return int(value)
        return float(value)

    def text(self, key: str, *, required: bool = True, default: str | None = None,
             choices: tuple[str, ...] | None = None) -> str | None:
        value = self._get(key, required=required and default is None)
        if value is None:
            return default
        if not isinstance(value, str):
            raise CatalogError(f"{self.where}.{key}: expected text, got {value!r}")
        if choices and value not in choices:
            raise CatalogError(f"{self.where}.{key}: must be one of {', '.join(choices)}, got '{value}'")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._get(key, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise CatalogError(f"{self.where}.{key}: expected true or false, got {value!r}")
        return value

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self._get(key, required=False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CatalogError(f"{self.where}.{key}: expected a list of names, got {value!r}")
        return tuple(value)

    def sources(self) -> dict[str, str]:
        return {k: p for k, (v, p) in self.flat.items() if p is not None and k in self.used}


# --------------------------------------------------------------------------------------------------------------
# Catalog entries

MATH_PRECISIONS = ("bf16", "fp8", "fp4")
GPU_HOUR_TIERS = ("hyperscaler", "neocloud", "rental")


@dataclass(frozen=True)
class System:
    """One GPU system (see data/systems.yaml for field definitions and units)."""

    id: str
    name: str
    vendor: str
    architecture: str
    preliminary: bool
    year: int
    peak_dense_tflops: dict[str, float | None]
    hbm_capacity_gib: float
    hbm_bandwidth_tb_s: float
    scale_up_bandwidth_gb_s: float
    scale_up_domain_gpus: int
    scale_out_bandwidth_gb_s: float
    gpu_tdp_w: float
    all_in_power_kw_per_gpu: float
    it_power_kw_per_gpu: float
    gpus_per_rack: int
    capex_usd_per_gpu: float
    gpu_hour_usd: dict[str, float]
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    preliminary_note: str = ""
    user_defined: bool = False
    calibration_system: str = ""  # a user-defined copy keeps the efficiency factors of the system it came from
    scale_up_peer_bandwidth_gb_s: float = 0.0  # 0 = any peer at the full scale-up bandwidth (a switch)
    four_bit_format: str = "nvfp4"
    attention_compute_speedup: float = 1.0

    @property
    def peer_bandwidth_gb_s(self) -> float:
        """Scale-up bandwidth to one peer (GB/s, one direction)."""
        return self.scale_up_peer_bandwidth_gb_s or self.scale_up_bandwidth_gb_s

    @property
    def factor_id(self) -> str:
        """Id under which efficiency factors are looked up."""
        return self.calibration_system or self.id

    def peak_flops(self, math_precision: str) -> float | None:
        """Dense peak in FLOP/s for ``bf16``/``fp8``/``fp4`` math, None when unsupported."""
        tflops = self.peak_dense_tflops.get(math_precision)
        return None if tflops is None else tflops * 1e12

    @property
    def hbm_capacity_bytes(self) -> float:
        return self.hbm_capacity_gib * 2**30

    @property
    def hbm_bandwidth_bytes_per_s(self) -> float:
        return self.hbm_bandwidth_tb_s * 1e12


def parse_system(system_id: str, entry: dict, where: str) -> System:
    f = _Fields(flatten_sourced(entry, where), where)
    peaks = {p: f.number(f"peak_dense_tflops.{p}", allow_null=(p != "bf16"), required=(p == "bf16"))
             for p in MATH_PRECISIONS}
    tiers = {t: f.number(f"gpu_hour_usd.{t}") for t in GPU_HOUR_TIERS}
    return System(
        id=system_id,
        name=f.text("name"),
        vendor=f.text("vendor"),
        architecture=f.text("architecture"),
        preliminary=f.flag("preliminary"),
        preliminary_note=f.text("preliminary_note", required=False, default=""),
        year=f.number("year", integer=True),
        peak_dense_tflops=peaks,
        hbm_capacity_gib=f.number("hbm_capacity_gib"),
        hbm_bandwidth_tb_s=f.number("hbm_bandwidth_tb_s"),
        scale_up_bandwidth_gb_s=f.number("scale_up_bandwidth_gb_s"),
        scale_up_domain_gpus=f.number("scale_up_domain_gpus", integer=True),
        scale_out_bandwidth_gb_s=f.number("scale_out_bandwidth_gb_s"),
        scale_up_peer_bandwidth_gb_s=f.number("scale_up_peer_bandwidth_gb_s", required=False, default=0.0,
                                              positive=False),
        four_bit_format=f.text("four_bit_format", required=False, default="nvfp4", choices=("nvfp4", "mxfp4")),
        attention_compute_speedup=f.number("attention_compute_speedup", required=False, default=1.0),
        gpu_tdp_w=f.number("gpu_tdp_w"),
        all_in_power_kw_per_gpu=f.number("all_in_power_kw_per_gpu"),
        it_power_kw_per_gpu=f.number("it_power_kw_per_gpu"),
        gpus_per_rack=f.number("gpus_per_rack", integer=True),
        capex_usd_per_gpu=f.number("capex_usd_per_gpu"),
        gpu_hour_usd=tiers,
        sources=f.sources(),
        user_defined=f.flag("user_defined"),
    )


TENSOR_CLASSES = ("embedding", "lm_head", "router", "attention", "shared_experts", "mtp")


@dataclass(frozen=True)
class Model:
    """A decoder-only transformer (dense or mixture-of-experts), as in its config.json.

    Dense models have ``experts == 0`` and ``dense_layers == layers``. MLA fields are 0 for GQA models.
    """

    id: str
    name: str
    hf_id: str
    native_precision: str
    four_bit_format: str
    unquantized_tensors: frozenset[str]
    attention: str
    layers: int
    hidden_size: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool
    dense_layers: int
    intermediate_size: int = 0
    experts: int = 0
    experts_per_token: int = 0
    shared_experts: int = 0
    expert_intermediate_size: int = 0
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    mtp_layers: int = 0
    sliding_window_layers: int = 0
    sliding_window_tokens: int = 0
    published_total_params_b: float | None = None
    published_active_params_b: float | None = None
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    user_defined: bool = False
    # tensors the published 4-bit checkpoint keeps at 16 bits on top of ``unquantized_tensors`` (its recipe)
    four_bit_unquantized_tensors: frozenset[str] = frozenset()

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def is_mla(self) -> bool:
        return self.attention == "mla"


def parse_model(model_id: str, entry: dict, where: str) -> Model:
    f = _Fields(flatten_sourced(entry, where), where)
    a = "architecture."
    attention = f.text(a + "attention", choices=("gqa", "mla"))
    layers = f.number(a + "layers", integer=True)
    experts = f.number(a + "experts", integer=True, required=False, default=0, positive=False)
    kw: dict[str, Any] = {}
    for name in ("q_lora_rank", "kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
        kw[name] = f.number(a + name, integer=True, required=(attention == "mla"), default=0,
                            positive=(attention == "mla"))
    if experts:
        for name in ("experts_per_token", "expert_intermediate_size"):
            kw[name] = f.number(a + name, integer=True)
        kw["shared_experts"] = f.number(a + "shared_experts", integer=True, required=False, default=0,
                                        positive=False)
    dense_layers = f.number(a + "dense_layers", integer=True, required=False,
                            default=(0 if experts else layers), positive=False)
    intermediate = f.number(a + "intermediate_size", integer=True, required=dense_layers > 0, default=0,
                            positive=dense_layers > 0)
    unquantized = f.text_list("unquantized_tensors")
    four_bit_kept = f.text_list("four_bit_unquantized_tensors")
    for key, names in (("unquantized_tensors", unquantized), ("four_bit_unquantized_tensors", four_bit_kept)):
        bad = [t for t in names if t not in TENSOR_CLASSES]
        if bad:
            raise CatalogError(f"{where}.{key}: unknown tensor class {bad[0]!r}; known: {', '.join(TENSOR_CLASSES)}")
    if four_bit_kept and not f.flat["four_bit_unquantized_tensors"][1]:
        raise CatalogError(f"{where}.four_bit_unquantized_tensors: needs four_bit_unquantized_tensors_source")
    model = Model(
        id=model_id,
        name=f.text("name"),
        hf_id=f.text("hf_id", required=False, default=""),
        native_precision=f.text("native_precision", choices=("bf16", "fp8", "nvfp4")),
        four_bit_format=f.text("four_bit_format", required=False, default="nvfp4", choices=("nvfp4", "mxfp4")),
        unquantized_tensors=frozenset(unquantized),
        four_bit_unquantized_tensors=frozenset(four_bit_kept),
        attention=attention,
        layers=layers,
        hidden_size=f.number(a + "hidden_size", integer=True),
        heads=f.number(a + "heads", integer=True),
        kv_heads=f.number(a + "kv_heads", integer=True),
        head_dim=f.number(a + "head_dim", integer=True, required=(attention == "gqa"), default=0,
                          positive=(attention == "gqa")),
        vocab_size=f.number(a + "vocab_size", integer=True),
        tie_word_embeddings=f.flag(a + "tie_word_embeddings"),
        dense_layers=dense_layers,
        intermediate_size=intermediate,
        experts=experts,
        mtp_layers=f.number(a + "mtp_layers", integer=True, required=False, default=0, positive=False),
        sliding_window_layers=f.number(a + "sliding_window_layers", integer=True, required=False, default=0,
                                       positive=False),
        sliding_window_tokens=f.number(a + "sliding_window_tokens", integer=True, required=False, default=0,
                                       positive=False),
        published_total_params_b=f.number("published_total_params_b", required=False),
        published_active_params_b=f.number("published_active_params_b", required=False),
        sources=f.sources(),
        user_defined=f.flag("user_defined"),
        **kw,
    )
    _check_model(model, where)
    return model


def _check_model(m: Model, where: str) -> None:
    if m.dense_layers > m.layers:
        raise CatalogError(f"{where}: dense_layers ({m.dense_layers}) exceeds layers ({m.layers})")
    if not m.is_moe and m.dense_layers != m.layers:
        raise CatalogError(f"{where}: a dense model (no experts) must have dense_layers == layers")
    if m.is_moe and m.experts_per_token > m.experts:
        raise CatalogError(f"{where}: experts_per_token ({m.experts_per_token}) exceeds experts ({m.experts})")
    if m.kv_heads > m.heads or m.heads % m.kv_heads:
        raise CatalogError(f"{where}: heads ({m.heads}) must be a multiple of kv_heads ({m.kv_heads})")
    if m.sliding_window_layers > m.layers:
        raise CatalogError(f"{where}: sliding_window_layers exceeds layers")
    if m.sliding_window_layers and not m.sliding_window_tokens:
        raise CatalogError(f"{where}: sliding_window_layers needs sliding_window_tokens")


@dataclass(frozen=True)
class Precision:
    """A deployment precision (see data/precisions.yaml)."""

    id: str
    name: str
    math: str
    fallback_math: str | None
    weight_bytes_per_element: float
    weight_bytes_per_element_mxfp4: float | None
    kv_cache_bytes_per_element: float
    sources: dict[str, str] = field(default_factory=dict, compare=False)


def parse_precision(precision_id: str, entry: dict, where: str) -> Precision:
    f = _Fields(flatten_sourced(entry, where), where)
    return Precision(
        id=precision_id,
        name=f.text("name"),
        math=f.text("math", choices=MATH_PRECISIONS),
        fallback_math=f.text("fallback_math", required=False, choices=MATH_PRECISIONS),
        weight_bytes_per_element=f.number("weight_bytes_per_element"),
        weight_bytes_per_element_mxfp4=f.number("weight_bytes_per_element_mxfp4", required=False),
        kv_cache_bytes_per_element=f.number("kv_cache_bytes_per_element"),
        sources=f.sources(),
    )


@dataclass(frozen=True)
class Workload:
    """A preset of nominal input (isl) and output (osl) lengths, tokens per request."""

    id: str
    name: str
    isl_tokens: int
    osl_tokens: int
    sources: dict[str, str] = field(default_factory=dict, compare=False)


def parse_workload(workload_id: str, entry: dict, where: str) -> Workload:
    f = _Fields(flatten_sourced(entry, where), where)
    return Workload(id=workload_id, name=f.text("name"), isl_tokens=f.number("isl_tokens", integer=True),
                    osl_tokens=f.number("osl_tokens", integer=True), sources=f.sources())


# --------------------------------------------------------------------------------------------------------------
# The catalog


@dataclass(frozen=True)
class Catalog:
    """All catalogs of one data directory. Immutable; ``with_system``/``with_model`` give modified copies."""

    systems: dict[str, System]
    models: dict[str, Model]
    precisions: dict[str, Precision]
    workloads: dict[str, Workload]
    data_dir: Path

    def system(self, system_id: str) -> System:
        return _lookup(self.systems, system_id, "system")

    def model(self, model_id: str) -> Model:
        return _lookup(self.models, model_id, "model")

    def precision(self, precision_id: str) -> Precision:
        return _lookup(self.precisions, precision_id, "precision")

    def workload(self, workload_id: str) -> Workload:
        return _lookup(self.workloads, workload_id, "workload")

    def with_system(self, system: System) -> "Catalog":
        return dataclasses.replace(self, systems={**self.systems, system.id: system})

    def with_model(self, model: Model) -> "Catalog":
        return dataclasses.replace(self, models={**self.models, model.id: model})


def _lookup(table: dict, key: str, kind: str):
    if not isinstance(key, str) or key not in table:
        raise FactoryModelError(unknown_id_message(kind, key, list(table)))
    return table[key]


def _parse_file(path: Path, parser) -> dict:
    data = read_yaml(path)
    out = {}
    for entry_id, entry in data.items():
        where = f"{path.name}: {entry_id}"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: expected a mapping of fields")
        out[str(entry_id)] = parser(str(entry_id), entry, where)
    return out


@functools.lru_cache(maxsize=8)
def load_catalog(data_dir: str | Path | None = None) -> Catalog:
    """Load and validate every catalog file of ``data_dir`` (default: the package's ``data/``)."""
    d = Path(data_dir) if data_dir is not None else DATA_DIR
    return Catalog(
        systems=_parse_file(d / "systems.yaml", parse_system),
        models=_parse_file(d / "models.yaml", parse_model),
        precisions=_parse_file(d / "precisions.yaml", parse_precision),
        workloads=_parse_file(d / "workloads.yaml", parse_workload),
        data_dir=d,
    )
