"""Serving-stack features per system: which deployments the best public stack runs there (data/serving_stacks.yaml).

The search (search.py) only offers deployments whose features the system's stack has: DP attention, expert
parallelism, disaggregated prefill/decode, MTP, and engines up to ``max_gpus_per_instance`` GPUs. Systems not
listed have every feature. ``frameworks`` names the stacks with public recipes there; the calibrated MTP
acceptance a frontier uses is the best of theirs (serving.mtp_speculation), of every stack where none is
named. A user-defined copy of a system keeps the stack of the system it came from.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from .catalog import DATA_DIR, read_yaml
from .errors import CatalogError

FEATURES = ("dp_attention", "expert_parallel", "disaggregated", "mtp")


@dataclass(frozen=True)
class StackFeatures:
    dp_attention: bool = True
    expert_parallel: bool = True
    disaggregated: bool = True
    mtp: bool = True
    max_gpus_per_instance: int | None = None
    frameworks: tuple[str, ...] = ()  # the stacks with public recipes there; () = any (their best MTP is used)
    source: str = ""

    def missing(self) -> list[str]:
        """Names of the features this stack lacks (for notes)."""
        return [f.replace("_", " ") for f in FEATURES if not getattr(self, f)]


def _sourced_entries(path: Path, keys: set[str]):
    """(name, entry, where) for each entry of a YAML map whose entries need a source and only ``keys``."""
    if not path.exists():
        return
    for name, entry in (read_yaml(path) or {}).items():
        where = f"{path.name}: {name}"
        if not isinstance(entry, dict) or not entry.get("source"):
            raise CatalogError(f"{where}: needs a source")
        unknown = set(entry) - keys - {"source"}
        if unknown:
            raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
        yield str(name), entry, where


@functools.lru_cache(maxsize=4)
def load_stacks(data_dir: str | None = None) -> dict[str, StackFeatures]:
    out = {}
    for system, entry, where in _sourced_entries(Path(data_dir or DATA_DIR) / "serving_stacks.yaml",
                                                 {*FEATURES, "max_gpus_per_instance", "frameworks"}):
        for f in FEATURES:
            if f in entry and not isinstance(entry[f], bool):
                raise CatalogError(f"{where}.{f}: expected true or false")
        cap = entry.get("max_gpus_per_instance")
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
            raise CatalogError(f"{where}.max_gpus_per_instance: expected a whole number >= 1")
        frameworks = entry.get("frameworks", [])
        if not isinstance(frameworks, list) or not all(isinstance(x, str) and x.strip() for x in frameworks):
            raise CatalogError(f"{where}.frameworks: expected a list of framework names")
        out[system] = StackFeatures(**{f: entry.get(f, True) for f in FEATURES},
                                         max_gpus_per_instance=cap, frameworks=tuple(frameworks),
                                         source=str(entry["source"]))
    return out


def stack_of(system) -> StackFeatures:
    """The stack features of a catalog system (its calibration source for a user-defined copy)."""
    return load_stacks().get(system.factor_id, StackFeatures())


@dataclass(frozen=True)
class MtpRecipe:
    """Draft tokens per step a stack's public recipes run (data/mtp_recipes.yaml); None = the model default."""

    draft_tokens: int | None = None
    draft_tokens_dp_attention: int | None = None
    source: str = ""

    def draft_tokens_for(self, dp_attention: bool, default: int) -> int:
        if dp_attention and self.draft_tokens_dp_attention is not None:
            return self.draft_tokens_dp_attention
        return self.draft_tokens if self.draft_tokens is not None else default


@functools.lru_cache(maxsize=4)
def load_mtp_recipes(data_dir: str | None = None) -> dict[str, MtpRecipe]:
    out = {}
    for family, entry, where in _sourced_entries(Path(data_dir or DATA_DIR) / "mtp_recipes.yaml",
                                                 {"draft_tokens", "draft_tokens_dp_attention"}):
        counts = {}
        for key in ("draft_tokens", "draft_tokens_dp_attention"):
            value = entry.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 8):
                raise CatalogError(f"{where}.{key}: expected a whole number of draft tokens from 1 to 8")
            counts[key] = value
        out[family] = MtpRecipe(**counts, source=str(entry["source"]))
    return out


def mtp_recipe(family: str) -> MtpRecipe:
    """The MTP recipe of a serving-stack family (no recipe: the model default for every mode)."""
    return load_mtp_recipes().get(family, MtpRecipe())
