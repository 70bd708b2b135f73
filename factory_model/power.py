"""Power envelope → factory: GPUs and racks that fit, tokens/s per MW, joules per token.

Power per GPU is all-in (GPU, CPU, network and facility overhead), from one of three sources:

* the catalog's ``all_in_power_kw_per_gpu`` (SemiAnalysis/InferenceX provisioned utility kW; the default);
* ``pue``: the catalog's IT power per GPU (server or rack input power / GPUs) × PUE;
* ``kw_per_gpu``: a figure the user gives.

tokens/s per MW = tokens/s per GPU × 1000 / kW per GPU (continuous, the InferenceX convention); the facility
itself is built from whole racks: racks = ⌊MW · 1000 / (kW per GPU · GPUs per rack)⌋.
J per token = kW per GPU · 1000 / tokens/s per GPU (all-in energy; output or total token basis named).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .catalog import System
from .errors import FactoryModelError
from .schemas import finite_number

MAX_MW = 100_000  # 100 GW: larger than any planned campus
MAX_PUE = 3.0
MIN_KW_PER_GPU, MAX_KW_PER_GPU = 0.05, 100.0  # all-in kW per GPU (catalog: ~1-4 kW)


@dataclass(frozen=True)
class Power:
    """Resolved power of one system in one facility."""

    mw: float
    kw_per_gpu: float
    basis: str
    racks: int
    gpus: int

    @property
    def gpus_per_mw(self) -> float:
        """GPUs per MW (continuous)."""
        return 1000.0 / self.kw_per_gpu


def resolve_power(system: System, mw: float = 1.0, pue: float | None = None,
                  kw_per_gpu: float | None = None) -> Power:
    """Power per GPU and the racks/GPUs a facility of ``mw`` all-in megawatts holds."""
    mw = finite_number("facility power", mw, gt=0, le=MAX_MW,
                       fix=f"facility power must be a positive number of MW up to {MAX_MW:g}")
    if pue is not None and kw_per_gpu is not None:
        raise FactoryModelError("give either a PUE or an all-in kW per GPU, not both")
    if pue is not None:
        pue = finite_number("PUE", pue, ge=1.0, le=MAX_PUE, fix=f"a PUE lies between 1.0 and {MAX_PUE!r}")
        kw, basis = system.it_power_kw_per_gpu * pue, f"IT {system.it_power_kw_per_gpu:g} kW/GPU x PUE {pue:g}"
    elif kw_per_gpu is not None:
        kw_per_gpu = finite_number("kW per GPU", kw_per_gpu, ge=MIN_KW_PER_GPU, le=MAX_KW_PER_GPU,
                                   fix=f"all-in kW per GPU lies between {MIN_KW_PER_GPU:g} and {MAX_KW_PER_GPU:g}")
        kw, basis = float(kw_per_gpu), "user-given all-in kW/GPU"
    else:
        kw, basis = system.all_in_power_kw_per_gpu, "catalog all-in kW/GPU (provisioned utility power)"
    racks = int(math.floor(mw * 1000.0 / (kw * system.gpus_per_rack) + 1e-9))
    return Power(mw=float(mw), kw_per_gpu=kw, basis=basis, racks=racks, gpus=racks * system.gpus_per_rack)
