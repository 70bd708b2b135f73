"""Efficiency and serving factors: the model's calibration constants, kept as data.

Two kinds of tunable numbers, each row with its source:

* ``data/efficiency_factors.csv``: achieved fraction of peak FLOP/s (``compute_fraction``), of HBM bandwidth
  (``memory_fraction``), of link bandwidth (``link_fraction``) and fixed latencies (``fixed_latency_us``) per
  system x precision x op class. ``*`` in the system or precision column is a default. A lookup takes the most
  specific row: (system, precision), (system, *), (*, precision), (*, *).
* ``data/serving.yaml``: serving-framework behaviour (KV memory fraction, chunk budget, reservations, TTFT
  queueing), one block per profile.

A calibration profile (``data/calibration/<profile>.csv``, written by ``python -m factory_model fit``) overlays
fitted values on those priors; fitted serving values use op class ``serving``. Profile ``uncalibrated`` uses the
priors alone. Op classes and parameters are listed in :data:`OP_CLASSES`.

Lookup precedence (one rule, so a stale or sibling value can never win over a more specific one):

1. explicit overrides (``with_overrides``: a live-calibration session, a what-if) for the system itself;
2. fitted rows of the profile at the most specific level the system belongs to — its silicon group, then its
   vendor, then global ``*`` (data/silicon.yaml): systems on one die share every fitted factor;
3. sourced priors: (system, precision), (system, *), (*, precision), (*, *).

Within a level the exact precision beats ``*``.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from .catalog import DATA_DIR, _Fields, flatten_sourced, read_yaml
from .errors import CatalogError, FactoryModelError

# op class -> parameters it may carry. What each op class covers is documented in step_time.py.
OP_CLASSES: dict[str, tuple[str, ...]] = {
    "gemm": ("compute_fraction", "memory_fraction", "fixed_latency_us", "half_efficiency_tokens"),
    "moe": ("compute_fraction", "memory_fraction", "fixed_latency_us", "half_efficiency_tokens"),
    "attention_decode": ("compute_fraction", "memory_fraction", "fixed_latency_us"),
    "attention_prefill": ("compute_fraction", "fixed_latency_us"),
    "allreduce": ("link_fraction", "fixed_latency_us", "latency_per_doubling_us"),
    "allreduce_scaleout": ("link_fraction", "fixed_latency_us", "latency_per_doubling_us"),
    "alltoall": ("link_fraction", "fixed_latency_us"),
    "alltoall_scaleout": ("link_fraction", "fixed_latency_us"),
    "p2p": ("fixed_latency_us",),
    "layer": ("fixed_latency_us",),
    "step": ("fixed_latency_us",),
}
SERVING_PARAMETERS = (
    "kv_cache_memory_fraction",
    "runtime_reserved_gib",
    "activation_bytes_per_token_per_hidden",
    "max_num_tokens",
    "kv_reserved_fraction_of_output",
    "ttft_queue_factor",
    "max_batch_per_rank",
    "disagg_prefill_rate_factor",
    "disagg_decode_rate_factor",
    "disagg_ttft_factor",
    "ttft_limit_s",
    "mtp_draft_tokens",
    "mtp_acceptance",
    "ep_imbalance_per_doubling",
    "moe_comm_overlap",
    "redundant_expert_fraction",
    "sequence_overhead_us",
    "draft_expert_reuse",
    "mtp_acceptance_per_output_doubling",
)
# Serving stacks (framework families) whose MTP realisation is calibrated on its own: ``mtp_acceptance_<stack>``
# rows of a calibration profile (fitted where the stack measured MTP points). Absent, the stack takes the
# default ``mtp_acceptance`` — which a level fit sets to the best calibrated stack's (the default model predicts
# the best stack). A framework name maps to its family by its last word (dynamo-trtllm → trtllm,
# mori-sglang → sglang).
MTP_STACKS = ("trtllm", "sglang", "atom", "vllm")
STACK_SERVING_PARAMETERS = tuple(f"mtp_acceptance_{s}" for s in MTP_STACKS)


def stack_family(framework: str) -> str:
    """Family of a serving framework name: its last dash-separated word (``dynamo-trtllm`` → ``trtllm``)."""
    return str(framework or "").strip().lower().rsplit("-", 1)[-1]
# Efficiency "precisions": the math an op runs in. w4a16 = 4-bit weights dequantized to 16-bit math;
# w4a8 = 4-bit (MXFP4) weights with FP8 activations.
EFFICIENCY_PRECISIONS = ("bf16", "fp8", "nvfp4", "w4a8", "w4a16", "*")
CSV_COLUMNS = ["system", "precision", "op_class", "parameter", "value", "source"]
CALIBRATION_DIR_NAME = "calibration"
DEFAULT_PROFILE = "default"
UNCALIBRATED = "uncalibrated"


@dataclass(frozen=True)
class FactorRow:
    system: str
    precision: str
    op_class: str
    parameter: str
    value: float
    source: str


def read_factor_csv(path: Path, *, systems: set[str] | None = None) -> list[FactorRow]:
    """Read and validate a factor table; every problem names the file, row and column."""
    try:
        handle = open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError(f"{path}: file not found") from None
    rows: list[FactorRow] = []
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, raw in enumerate(reader, start=2):
            where = f"{path.name} row {line}"
            op_class, parameter = raw["op_class"], raw["parameter"]
            if op_class == "serving":
                if parameter not in SERVING_PARAMETERS + STACK_SERVING_PARAMETERS:
                    raise CatalogError(f"{where}: unknown serving parameter '{parameter}'")
            elif op_class not in OP_CLASSES:
                raise CatalogError(f"{where}: unknown op_class '{op_class}'; known: {', '.join(OP_CLASSES)}")
            elif parameter not in OP_CLASSES[op_class]:
                raise CatalogError(f"{where}: op class '{op_class}' has no parameter '{parameter}'")
            if raw["precision"] not in EFFICIENCY_PRECISIONS:
                raise CatalogError(f"{where}: unknown precision '{raw['precision']}'")
            if systems is not None and raw["system"] != "*" and raw["system"] not in systems:
                raise CatalogError(f"{where}: unknown system '{raw['system']}'")
            try:
                value = float(raw["value"])
            except (TypeError, ValueError):
                raise CatalogError(f"{where}, column value: not a number: {raw['value']!r}") from None
            if not math.isfinite(value) or value < 0:
                raise CatalogError(f"{where}, column value: must be a finite non-negative number")
            if parameter.endswith("_fraction") and not 0 < value <= 1:
                raise CatalogError(f"{where}, column value: a fraction must lie in (0, 1], got {value}")
            if not (raw.get("source") or "").strip():
                raise CatalogError(f"{where}, column source: every factor needs a source")
            rows.append(FactorRow(raw["system"], raw["precision"], op_class, parameter, value,
                                  raw["source"].strip()))
    return rows


def write_factor_csv(path: Path, rows: list[FactorRow]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            writer.writerow([r.system, r.precision, r.op_class, r.parameter, repr(round(r.value, 6)), r.source])


@dataclass(frozen=True)
class Factors:
    """Resolved efficiency and serving factors of one calibration profile.

    ``get(system, precision, op_class, parameter)`` returns the value; ``source_of`` its provenance.
    """

    profile: str
    table: dict[tuple[str, str, str, str], FactorRow]
    serving_values: dict[str, tuple[float, str]]
    fitted: dict[tuple[str, str, str, str], FactorRow] = field(default_factory=dict)
    overrides: dict[tuple[str, str, str, str], FactorRow] = field(default_factory=dict)
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)  # system -> (silicon, vendor)

    def levels_of(self, system: str) -> tuple[str, ...]:
        """Fitted levels a system takes values from, most specific first: silicon, vendor, '*'."""
        return (*self.levels.get(system, ()), "*")

    def _row(self, system: str, precision: str, op_class: str, parameter: str) -> FactorRow:
        for p in (precision, "*"):
            row = self.overrides.get((system, p, op_class, parameter))
            if row is not None:
                return row
        for level in self.levels_of(system):
            for p in (precision, "*"):
                row = self.fitted.get((level, p, op_class, parameter))
                if row is not None:
                    return row
        for s, p in ((system, precision), (system, "*"), ("*", precision), ("*", "*")):
            row = self.table.get((s, p, op_class, parameter))
            if row is not None:
                return row
        raise CatalogError(f"efficiency factors: no value for {op_class}.{parameter} "
                           f"(system {system}, precision {precision}) and no '*' default")

    def get(self, system: str, precision: str, op_class: str, parameter: str) -> float:
        return self._row(system, precision, op_class, parameter).value

    def source_of(self, system: str, precision: str, op_class: str, parameter: str) -> str:
        return self._row(system, precision, op_class, parameter).source

    def serving(self, parameter: str) -> float:
        return self.serving_values[parameter][0]

    def stack_serving(self, parameter: str, stack: str | None) -> float:
        """``parameter`` as calibrated for a serving stack (``<parameter>_<family>``), else the default."""
        own = f"{parameter}_{stack_family(stack)}" if stack else None
        return self.serving_values[own][0] if own in self.serving_values else self.serving(parameter)

    def with_overrides(self, overrides: dict[tuple[str, str, str, str], float],
                       source: str = "override") -> "Factors":
        """A copy with rows (system, precision, op_class, parameter) set to new values (the fit, what-if).

        The rows join the table, so they take part in the usual most-specific-first lookup.
        """
        merged = dict(self.overrides)
        for key, value in overrides.items():
            merged[key] = FactorRow(*key, float(value), source)
        return replace(self, overrides=merged)

    def with_fitted(self, rows: dict[tuple[str, str, str, str], float], source: str = "fit") -> "Factors":
        """A copy with fitted rows at levels (silicon group, vendor or '*'); see the lookup precedence."""
        merged = dict(self.fitted)
        for key, value in rows.items():
            merged[key] = FactorRow(*key, float(value), source)
        return replace(self, fitted=merged)

    def with_serving(self, **values: float) -> "Factors":
        merged = dict(self.serving_values)
        for k, v in values.items():
            if k not in SERVING_PARAMETERS + STACK_SERVING_PARAMETERS:
                raise FactoryModelError(f"unknown serving parameter '{k}'")
            merged[k] = (float(v), "override")
        return replace(self, serving_values=merged)

    def rows(self) -> list[FactorRow]:
        return list(self.table.values()) + list(self.fitted.values()) + list(self.overrides.values())


def _read_serving(path: Path, profile: str = "default") -> dict[str, tuple[float, str]]:
    data = read_yaml(path)
    if profile not in data:
        raise CatalogError(f"{path.name}: no serving profile '{profile}'")
    where = f"{path.name}: {profile}"
    f = _Fields(flatten_sourced(data[profile], where), where)
    values = {}
    for name in SERVING_PARAMETERS:
        values[name] = (f.number(name, positive=False), f.flat[name][1])
    return values


def available_profiles(data_dir: Path | None = None) -> list[str]:
    """Calibration profiles on disk, plus 'uncalibrated' (priors only)."""
    d = (Path(data_dir) if data_dir else DATA_DIR) / CALIBRATION_DIR_NAME
    found = sorted(p.stem for p in d.glob("*.csv")) if d.is_dir() else []
    return sorted(set(found) | {DEFAULT_PROFILE}) + [UNCALIBRATED]


@functools.lru_cache(maxsize=16)
def load_factors(profile: str = DEFAULT_PROFILE, data_dir: str | Path | None = None) -> Factors:
    """Priors from ``efficiency_factors.csv``/``serving.yaml`` overlaid with calibration profile ``profile``.

    A missing ``default`` profile falls back to the priors (a fresh checkout before the first fit); any other
    missing profile is an error that lists the available ones.
    """
    d = Path(data_dir) if data_dir is not None else DATA_DIR
    from .catalog import load_catalog

    systems = set(load_catalog(d).systems)
    levels = load_levels(d)
    table = {(r.system, r.precision, r.op_class, r.parameter): r
             for r in read_factor_csv(d / "efficiency_factors.csv", systems=systems)}
    serving = _read_serving(d / "serving.yaml")
    fitted: dict = {}
    if profile != UNCALIBRATED:
        path = d / CALIBRATION_DIR_NAME / f"{profile}.csv"
        if path.exists():
            level_ids = {x for lv in levels.values() for x in lv}
            for r in read_factor_csv(path, systems=systems | level_ids):
                if r.op_class == "serving":
                    serving[r.parameter] = (r.value, r.source)
                else:
                    fitted[(r.system, r.precision, r.op_class, r.parameter)] = r
        elif profile != DEFAULT_PROFILE:
            raise FactoryModelError(f"unknown calibration profile '{profile}'; available: "
                                    f"{', '.join(available_profiles(d))}")
    return Factors(profile, table, serving, fitted=fitted, levels=levels)


def load_levels(data_dir: str | Path | None = None) -> dict[str, tuple[str, str]]:
    """system id -> (silicon group, vendor) from data/silicon.yaml (the levels calibration is shared at)."""
    d = Path(data_dir) if data_dir is not None else DATA_DIR
    path = d / "silicon.yaml"
    if not path.exists():
        return {}
    out: dict[str, tuple[str, str]] = {}
    for silicon, entry in (read_yaml(path) or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("systems"), list) or not entry.get("vendor"):
            raise CatalogError(f"{path.name}: {silicon}: needs 'vendor' and a list of 'systems'")
        if not entry.get("source"):
            raise CatalogError(f"{path.name}: {silicon}: needs a source")
        for system in entry["systems"]:
            out[str(system)] = (str(silicon), str(entry["vendor"]))
    return out
