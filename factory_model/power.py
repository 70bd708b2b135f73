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
    if mw is None or not math.isfinite(mw) or mw <= 0:
        raise FactoryModelError(f"facility power must be a positive number of MW, got {mw!r}")
    if pue is not None and kw_per_gpu is not None:
        raise FactoryModelError("give either a PUE or an all-in kW per GPU, not both")
    if pue is not None:
        if not math.isfinite(pue) or pue < 1.0:
            raise FactoryModelError(f"PUE must be at least 1.0, got {pue!r}")
        kw, basis = system.it_power_kw_per_gpu * pue, f"IT {system.it_power_kw_per_gpu:g} kW/GPU x PUE {pue:g}"
    elif kw_per_gpu is not None:
        if not math.isfinite(kw_per_gpu) or kw_per_gpu <= 0:
            raise FactoryModelError(f"kW per GPU must be positive, got {kw_per_gpu!r}")
        kw, basis = float(kw_per_gpu), "user-given all-in kW/GPU"
    else:
        kw, basis = system.all_in_power_kw_per_gpu, "catalog all-in kW/GPU (provisioned utility power)"
    racks = int(math.floor(mw * 1000.0 / (kw * system.gpus_per_rack) + 1e-9))
    return Power(mw=float(mw), kw_per_gpu=kw, basis=basis, racks=racks, gpus=racks * system.gpus_per_rack)
