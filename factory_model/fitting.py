"""Fit efficiency and serving factors to the measured reference set; write a calibration profile.

``python -m factory_model fit [--backend best|trtllm|vllm|sglang] [--profile NAME]`` runs this and writes
``data/calibration/<profile>.csv`` (default profile ``default`` from the best framework per configuration).

What is fitted, and why these: the factors the reference set identifies. For each measured system × model ×
precision with at least MIN_GROUP_POINTS configurations (fewer would let a handful of points set how fast every
model runs on that system and precision), the memory and compute efficiency of its weight op class (``gemm``
for dense models, ``moe`` for MoE models) under that precision's math (w4a8 for MXFP4 on Blackwell, w4a16 on
Hopper); per measured system the residual fixed latency per layer and per MoE layer and the GEMM row ramp;
globally the MoE row ramp, all-reduce and all-to-all latencies, the prefill-attention efficiency and the TTFT
queue factor. Everything else keeps its sourced prior.

Method: bounded nonlinear least squares (scipy.optimize.least_squares, soft-L1 loss so a few inconsistent
measurements cannot drag the fit) on log(pred/measured) of TPOT (weight 1) and TTFT (weight 0.5: TTFT depends
on arrival timing the model does not see), plus weak prior terms (θ − θ_prior)/σ that keep factors the data
barely constrain near their sourced values. Every 5th configuration (deterministic) is held out and its error
reported, so the calibration's generalisation is visible next to its in-sample error.

Systems with no measured points take the fitted latencies and memory efficiencies of their closest measured
sibling (data/calibration_transfer.yaml), marked as transferred; compute efficiencies keep their priors because
peaks differ between siblings.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from .catalog import DATA_DIR, Catalog, _Fields, flatten_sourced, load_catalog, read_yaml
from .factors import CALIBRATION_DIR_NAME, FactorRow, Factors, load_factors, write_factor_csv, UNCALIBRATED
from .precision import resolve_precision
from .reference import BENCHMARK_LENGTH_FACTOR, REFERENCE_PATH, load_reference, predict, select
from .validation import add_errors, summarize

MIN_GROUP_POINTS = 20  # a system x model x precision group needs this many configurations for its own factors
TPOT_WEIGHT = 1.0
TTFT_WEIGHT = 0.5
HOLDOUT_EVERY = 5
LOSS_SCALE = 0.1  # soft-L1 turns from quadratic to linear at ~10 % error
# Physical ceilings: no kernel sustains more than ~90 % of dense peak FLOP/s or ~95 % of HBM bandwidth
# (anchors-modelling §3.2: p90 compute-bound GEMMs reach ~80-90 %, weight streaming 76-90 %).
BOUNDS = {"compute_fraction": (0.05, 0.9), "memory_fraction": (0.05, 0.95), "link_fraction": (0.05, 1.0),
          "fixed_latency_us": (0.0, 300.0), "latency_per_doubling_us": (0.0, 100.0),
          "half_efficiency_tokens": (0.0, 2048.0),
          "ttft_queue_factor": (0.0, 1.0)}
PRIOR_SIGMA = {"compute_fraction": 0.25, "memory_fraction": 0.25, "link_fraction": 0.25,
               "fixed_latency_us": 25.0, "latency_per_doubling_us": 10.0, "half_efficiency_tokens": 128.0,
               "ttft_queue_factor": 0.5}
TRANSFERRED = ("memory_fraction", "fixed_latency_us", "latency_per_doubling_us")


@dataclass(frozen=True)
class Parameter:
    system: str
    precision: str
    op_class: str
    parameter: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.system, self.precision, self.op_class, self.parameter)

    @property
    def name(self) -> str:
        return f"{self.system}/{self.precision}/{self.op_class}.{self.parameter}"


SERVING = "serving"


def fitted_parameters(points: pd.DataFrame, catalog: Catalog) -> list[Parameter]:
    """The parameters the reference points identify (see module docstring)."""
    params: list[Parameter] = []
    seen = set()

    def add(*key):
        if key not in seen:
            seen.add(key)
            params.append(Parameter(*key))

    for (system_id, model_id, precision_id), group in points.groupby(["system", "model", "precision"]):
        if len(group) < MIN_GROUP_POINTS:
            continue  # too few points to pin a factor that every other model on this system would inherit
        system, model = catalog.system(system_id), catalog.model(model_id)
        rp = resolve_precision(system, model, catalog.precision(precision_id))
        op = "moe" if model.is_moe else "gemm"
        add(system_id, rp.gemm_efficiency_key, op, "memory_fraction")
        add(system_id, rp.gemm_efficiency_key, op, "compute_fraction")
    for system_id in sorted(points["system"].unique()):
        add(system_id, "*", "layer", "fixed_latency_us")
        add(system_id, "*", "gemm", "half_efficiency_tokens")
    for system_id in sorted(points.loc[points["model"].map(lambda m: catalog.model(m).is_moe), "system"].unique()):
        add(system_id, "*", "moe", "fixed_latency_us")
    add("*", "*", "moe", "half_efficiency_tokens")
    add("*", "*", "allreduce", "fixed_latency_us")
    add("*", "*", "allreduce", "latency_per_doubling_us")
    add("*", "*", "alltoall", "fixed_latency_us")
    add("*", "*", "attention_prefill", "compute_fraction")
    add("*", "*", SERVING, "ttft_queue_factor")
    return params


def _apply(base: Factors, params: list[Parameter], theta: np.ndarray) -> Factors:
    overrides = {p.key: float(v) for p, v in zip(params, theta) if p.op_class != SERVING}
    serving = {p.parameter: float(v) for p, v in zip(params, theta) if p.op_class == SERVING}
    return base.with_overrides(overrides).with_serving(**serving)


def _prior(base: Factors, p: Parameter) -> float:
    if p.op_class == SERVING:
        return base.serving(p.parameter)
    return base.get(*p.key)


def holdout_mask(points: pd.DataFrame) -> np.ndarray:
    """Every HOLDOUT_EVERY-th configuration in a fixed order (deterministic, spread over all groups)."""
    order = points.sort_values(["system", "model", "precision", "isl", "osl", "tp", "dp_attention", "moe_ep",
                                "concurrency"]).index
    mask = np.zeros(len(points), dtype=bool)
    mask[np.asarray(order)[HOLDOUT_EVERY - 1::HOLDOUT_EVERY]] = True
    return mask


@dataclass
class FitResult:
    parameters: list[Parameter]
    prior: np.ndarray
    fitted: np.ndarray
    factors: Factors
    before: pd.DataFrame
    after: pd.DataFrame
    holdout_after: pd.DataFrame
    points: int
    holdout_points: int
    backend: str


def fit(backend: str = "best", *, reference: pd.DataFrame | None = None, catalog: Catalog | None = None,
        base: Factors | None = None, max_nfev: int = 60,
        only: list[tuple[str, str, str, str]] | None = None, points: pd.DataFrame | None = None,
        length_factor: float = BENCHMARK_LENGTH_FACTOR) -> FitResult:
    """Fit on the training configurations of the reference set; return before/after error tables.

    ``only`` restricts the fit to the listed (system, precision, op_class, parameter) keys. ``points`` fits
    given measured rows instead (reference format, e.g. a calibration session's operating points) with no
    hold-out; ``length_factor`` scales their isl/osl as in :func:`reference.predict`.
    """
    catalog = catalog or load_catalog()
    base = base or load_factors(UNCALIBRATED)
    if points is None:
        points = select(reference if reference is not None else load_reference(), backend).reset_index(drop=True)
        held = holdout_mask(points)
    else:
        points = points.reset_index(drop=True)
        held = np.zeros(len(points), dtype=bool)
    train = points[~held].reset_index(drop=True)
    params = fitted_parameters(train, catalog)
    if only is not None:
        params = [Parameter(*key) for key in only]
    prior = np.array([_prior(base, p) for p in params])
    lower = np.array([BOUNDS[p.parameter][0] for p in params])
    upper = np.array([BOUNDS[p.parameter][1] for p in params])
    sigma = np.array([PRIOR_SIGMA[p.parameter] for p in params])
    measured_tpot = np.log(train["tpot_ms"].to_numpy())
    measured_ttft = np.log(train["ttft_ms"].to_numpy())

    def residuals(theta: np.ndarray) -> np.ndarray:
        pred = predict(train, _apply(base, params, theta), catalog, length_factor)
        r_tpot = np.log(np.maximum(pred["pred_tpot_ms"].to_numpy(), 1e-9)) - measured_tpot
        r_ttft = np.log(np.maximum(pred["pred_ttft_ms"].to_numpy(), 1e-9)) - measured_ttft
        data = np.concatenate([TPOT_WEIGHT * r_tpot, TTFT_WEIGHT * r_ttft])
        data = np.nan_to_num(data, nan=5.0, posinf=5.0, neginf=-5.0)  # cannot-run points: large, finite
        return np.concatenate([data, (theta - prior) / sigma * LOSS_SCALE])

    start = np.clip(prior, lower + 1e-9, upper - 1e-9)
    solution = least_squares(residuals, start, bounds=(lower, upper), loss="soft_l1", f_scale=LOSS_SCALE,
                             x_scale=np.maximum(sigma, 1e-3), max_nfev=max_nfev, diff_step=1e-3)
    fitted = _apply(base, params, solution.x)
    before = summarize(add_errors(predict(points, base, catalog, length_factor)))
    after = summarize(add_errors(predict(train, fitted, catalog, length_factor)))
    holdout_after = summarize(add_errors(predict(points[held].reset_index(drop=True), fitted, catalog,
                                                 length_factor)))
    return FitResult(params, prior, solution.x, fitted, before, after, holdout_after, len(train), int(held.sum()),
                     backend)


def load_transfer_map(data_dir: Path | None = None) -> dict[str, tuple[str, str]]:
    """Unmeasured system -> (measured sibling, reason), from data/calibration_transfer.yaml."""
    path = (data_dir or DATA_DIR) / "calibration_transfer.yaml"
    out = {}
    for system_id, entry in read_yaml(path).items():
        f = _Fields(flatten_sourced(entry, f"{path.name}: {system_id}"), f"{path.name}: {system_id}")
        out[str(system_id)] = (f.text("from"), f.text("reason"))
    return out


def profile_rows(result: FitResult, data_dir: Path | None = None) -> list[FactorRow]:
    """Rows of the calibration profile: fitted values with provenance, then transfers to unmeasured systems."""
    digest = hashlib.sha256(REFERENCE_PATH.read_bytes()).hexdigest()[:12]
    date = _dt.date.today().isoformat()
    after = result.after.set_index("system").loc["all"]
    provenance = (f"fit {date}: python -m factory_model fit --backend {result.backend} on "
                  f"data/reference/measured_agg_points.csv (sha256 {digest}…, {result.points} configurations); "
                  f"in-sample TPOT MdAPE {after['tpot_mdape_pct']:.1f} %")
    rows = []
    for p, prior, value in zip(result.parameters, result.prior, result.fitted):
        rows.append(FactorRow(p.system, p.precision, p.op_class, p.parameter, float(value),
                              f"{provenance}; prior {prior:g}"))
    measured = {r.system for r in rows}
    for target, (sibling, reason) in load_transfer_map(data_dir).items():
        if target in measured:
            continue
        for r in list(rows):
            if r.system == sibling and r.parameter in TRANSFERRED:
                rows.append(FactorRow(target, r.precision, r.op_class, r.parameter, r.value,
                                      f"transferred from {sibling}'s fit ({reason}); no measured points"))
    return rows


def write_profile(result: FitResult, profile: str = "default", data_dir: Path | None = None) -> Path:
    path = (data_dir or DATA_DIR) / CALIBRATION_DIR_NAME / f"{profile}.csv"
    write_factor_csv(path, profile_rows(result, data_dir))
    load_factors.cache_clear()
    return path
