"""How a precision id (bf16, fp8, nvfp4) becomes bytes and math on a given system and model.

On a system without FP4 tensor cores (``peak_dense_tflops.fp4`` is null: Hopper, MI300X/MI325X) ``nvfp4`` runs
weight-only: weights stay 4-bit in memory and are dequantized to BF16 math (W4A16), as gpt-oss is deployed on
Hopper. Its efficiency factors are then looked up under precision ``w4a16``, and the result says so in ``note``.
Which tensors a checkpoint quantizes is its recipe: ``unquantized_tensors`` of a model stay BF16 at every
precision, and a published 4-bit checkpoint may keep more at 16 bits (``four_bit_unquantized_tensors``, e.g.
DeepSeek-R1's NVFP4 checkpoint keeps attention and the MTP layer in BF16); ``bf16_tensors`` lists them.
A checkpoint whose four_bit_format is MXFP4 (gpt-oss) runs on FP4-capable GPUs as W4A8 (4-bit weights, FP8
activations and math; AIConfigurator's MoE util table lists W4A8 separately, anchors-modelling §3.1): FP8 peak,
factors under ``w4a8``. NVFP4 checkpoints run W4A4 at the FP4 peak.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import Model, Precision, System
from .errors import FactoryModelError


@dataclass(frozen=True)
class ResolvedPrecision:
    """Bytes and math of one (system, model, precision).

    quantized_weight_bytes  bytes per element of the tensors the checkpoint quantizes (scales included)
    kv_bytes                bytes per KV-cache element
    gemm_math               peak used by quantized GEMMs: 'bf16', 'fp8' or 'fp4'
    gemm_efficiency_key     precision column of the efficiency table for those GEMMs ('w4a16' when weight-only)
    kv_math                 peak used by attention: 'fp8' with an FP8 KV cache, else 'bf16'
    kv_efficiency_key       precision column for attention ops
    """

    id: str
    quantized_weight_bytes: float
    kv_bytes: float
    gemm_math: str
    gemm_efficiency_key: str
    kv_math: str
    kv_efficiency_key: str
    weight_only: bool
    note: str
    bf16_tensors: frozenset = frozenset()  # tensor classes this checkpoint keeps at 16 bits (its recipe)


def resolve_precision(system: System, model: Model, precision: Precision) -> ResolvedPrecision:
    weight_bytes = precision.weight_bytes_per_element
    if precision.math == "fp4" and model.four_bit_format == "mxfp4" and precision.weight_bytes_per_element_mxfp4:
        weight_bytes = precision.weight_bytes_per_element_mxfp4
    math = precision.math
    efficiency_key = precision.id
    weight_only = False
    note = ""
    if math == "fp4" and system.four_bit_format == "mxfp4" and system.peak_flops("fp4") is not None:
        # CDNA4 runs 4-bit checkpoints as MXFP4 (its matrix cores have no NVFP4): MXFP4 bytes, FP4 math
        weight_bytes = precision.weight_bytes_per_element_mxfp4 or weight_bytes
        note = f"4-bit on {system.id} is MXFP4 (CDNA4 matrix cores), not NVFP4"
    elif math == "fp4" and model.four_bit_format == "mxfp4" and system.peak_flops("fp4") is not None:
        # MXFP4 checkpoints (gpt-oss) are served as W4A8: 4-bit weights, FP8 activations and math
        math, efficiency_key = "fp8", "w4a8"
        note = (f"{model.id}'s MXFP4 weights run as W4A8 on {system.id}: 4-bit weights, FP8 activations and math")
    elif system.peak_flops(math) is None:
        if precision.fallback_math is None or system.peak_flops(precision.fallback_math) is None:
            raise FactoryModelError(f"precision '{precision.id}' needs {math.upper()} tensor cores, "
                                    f"which {system.id} lacks")
        math = precision.fallback_math
        efficiency_key = "w4a16"
        weight_only = True
        note = (f"{precision.id} on {system.id} runs weight-only (W4A16): 4-bit weights, "
                f"{math.upper()} math (no FP4 tensor cores)")
    kv_bytes = precision.kv_cache_bytes_per_element
    bf16_tensors = set(model.unquantized_tensors)
    if precision.math == "fp4":  # the 4-bit checkpoint's recipe keeps more tensors at 16 bits (models.yaml)
        bf16_tensors |= model.four_bit_unquantized_tensors
    if precision.id == "bf16":
        bf16_tensors |= {"mtp"}
    kv_math = "fp8" if kv_bytes <= 1 and system.peak_flops("fp8") is not None else "bf16"
    return ResolvedPrecision(
        id=precision.id,
        quantized_weight_bytes=weight_bytes,
        kv_bytes=kv_bytes,
        gemm_math=math,
        gemm_efficiency_key=efficiency_key,
        kv_math=kv_math,
        kv_efficiency_key=kv_math,
        weight_only=weight_only,
        note=note,
        bf16_tensors=frozenset(bf16_tensors),
    )
