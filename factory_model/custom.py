"""User-defined systems and models: what-if edits, Hugging Face config.json import, YAML save/load.

Everything a user defines is marked ``user_defined`` and every number they set carries the source
"user-defined", so views can flag it wherever it shows. A custom system keeps the efficiency calibration of the
system it was derived from (``calibration_system``). Saved files use the catalogs' own YAML format and are read
back through the same validating parsers: a malformed file gives a one-line error, never a traceback.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import yaml

from . import schemas
from .catalog import (GPU_HOUR_TIERS, MATH_PRECISIONS, Catalog, Model, System, load_catalog, parse_model,
                      parse_system)
from .errors import CatalogError, FactoryModelError

USER = "user-defined"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
EDITABLE_SYSTEM_FIELDS = ("hbm_capacity_gib", "hbm_bandwidth_tb_s", "scale_up_bandwidth_gb_s",
                          "scale_up_domain_gpus", "scale_out_bandwidth_gb_s", "gpu_tdp_w",
                          "all_in_power_kw_per_gpu", "it_power_kw_per_gpu", "gpus_per_rack", "capex_usd_per_gpu")


def check_id(new_id: str, catalog: Catalog | None = None, kind: str = "system") -> str:
    if not isinstance(new_id, str) or not ID_PATTERN.match(new_id):
        raise FactoryModelError(f"{kind} id '{new_id}' must be lower-case letters, digits, '.', '_' or '-' "
                                f"(at most 63 characters)")
    return new_id


def edit_system(base: System, new_id: str | None = None, name: str | None = None, *,
                peak_dense_tflops: dict[str, float | None] | None = None,
                gpu_hour_usd: dict[str, float] | None = None, **fields: float) -> System:
    """A user-defined copy of ``base`` with some numbers changed (e.g. ``hbm_bandwidth_tb_s=10``)."""
    unknown = set(fields) - set(EDITABLE_SYSTEM_FIELDS)
    if unknown:
        raise FactoryModelError(f"cannot edit {', '.join(sorted(unknown))}; editable: "
                                f"{', '.join(EDITABLE_SYSTEM_FIELDS)}, peak_dense_tflops, gpu_hour_usd")
    changes: dict[str, Any] = {}
    sources = dict(base.sources)
    for key, value in fields.items():
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
            raise FactoryModelError(f"{key} must be a positive number, got {value!r}")
        if key in ("scale_up_domain_gpus", "gpus_per_rack"):
            if int(value) != value:
                raise FactoryModelError(f"{key} must be a whole number, got {value!r}")
            value = int(value)
        if value != getattr(base, key):
            changes[key] = value
            sources[key] = USER
    if peak_dense_tflops:
        peaks = dict(base.peak_dense_tflops)
        for precision, value in peak_dense_tflops.items():
            if precision not in MATH_PRECISIONS:
                raise FactoryModelError(f"unknown math precision '{precision}'; known: {', '.join(MATH_PRECISIONS)}")
            if value is not None and not value > 0:
                raise FactoryModelError(f"peak {precision} TFLOP/s must be positive (or empty for unsupported)")
            if precision == "bf16" and value is None:
                raise FactoryModelError("a system needs a BF16 peak")
            if value != peaks.get(precision):
                peaks[precision] = value
                sources[f"peak_dense_tflops.{precision}"] = USER
        changes["peak_dense_tflops"] = peaks
    if gpu_hour_usd:
        tiers = dict(base.gpu_hour_usd)
        for tier, value in gpu_hour_usd.items():
            if tier not in GPU_HOUR_TIERS:
                raise FactoryModelError(f"unknown $/GPU-hour tier '{tier}'")
            if not value > 0:
                raise FactoryModelError(f"$/GPU-hour ({tier}) must be positive")
            if value != tiers[tier]:
                tiers[tier] = value
                sources[f"gpu_hour_usd.{tier}"] = USER
        changes["gpu_hour_usd"] = tiers
    new_id = check_id(new_id or f"{base.id}-custom")
    return dataclasses.replace(base, id=new_id, name=name or f"{base.name} (user-defined)", sources=sources,
                               user_defined=True, calibration_system=base.calibration_system or base.id, **changes)


# ------------------------------------------------------------------------------------------ config.json


def _first(config: dict, *keys, default=None):
    for key in keys:
        if key in config and config[key] is not None:
            return config[key]
    return default


def model_from_hf_config(config: dict | str | bytes, model_id: str, name: str | None = None) -> Model:
    """A :class:`Model` from a Hugging Face ``config.json`` (dict, or its text).

    Understands Llama/Qwen/Mistral-style GQA, DeepSeek/Kimi-style MLA + MoE (n_routed_experts,
    first_k_dense_replace, n_shared_experts), Qwen-MoE (num_experts, moe_intermediate_size) and gpt-oss
    (num_local_experts, sliding_window + layer_types, MXFP4 quantization_config). Multimodal configs use their
    ``text_config``. Missing essentials raise :class:`FactoryModelError` naming the key.
    """
    if isinstance(config, (str, bytes)):
        config = schemas.load_json(config, "config.json")
    config = schemas.hf_config(config)  # types, ranges, finite numbers: one line naming the key otherwise
    check_id(model_id, kind="model")
    required = {"num_hidden_layers": "layers", "hidden_size": "hidden_size", "num_attention_heads": "heads",
                "vocab_size": "vocab_size"}
    for key in required:
        if not isinstance(config.get(key), int) or config[key] <= 0:
            raise FactoryModelError(f"config.json lacks a positive integer '{key}'")
    layers, hidden, heads = config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"]
    mla = config.get("kv_lora_rank") is not None
    experts = int(_first(config, "n_routed_experts", "num_local_experts", "num_experts", default=0) or 0)
    arch: dict[str, Any] = {
        "attention": "mla" if mla else "gqa",
        "layers": layers, "hidden_size": hidden, "heads": heads,
        "kv_heads": int(_first(config, "num_key_value_heads", default=heads)),
        "vocab_size": config["vocab_size"],
        "tie_word_embeddings": bool(config.get("tie_word_embeddings", False)),
    }
    if mla:
        arch["kv_heads"] = heads
        for key in ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
            if not config.get(key):
                raise FactoryModelError(f"config.json has MLA (kv_lora_rank) but lacks '{key}'")
            arch[key] = int(config[key])
        arch["q_lora_rank"] = int(config.get("q_lora_rank") or hidden)
    else:
        arch["head_dim"] = int(_first(config, "head_dim", default=hidden // heads))
    if experts:
        arch["experts"] = experts
        arch["experts_per_token"] = int(_first(config, "num_experts_per_tok", "experts_per_token", default=0))
        if not arch["experts_per_token"]:
            raise FactoryModelError("config.json has experts but lacks 'num_experts_per_tok'")
        arch["expert_intermediate_size"] = int(_first(config, "moe_intermediate_size", "intermediate_size",
                                                      default=0))
        arch["shared_experts"] = int(_first(config, "n_shared_experts", "num_shared_experts", default=0) or 0)
        dense = int(config.get("first_k_dense_replace", 0) or 0)
        arch["dense_layers"] = dense
        if dense:
            arch["intermediate_size"] = int(config.get("intermediate_size") or 0)
    else:
        arch["dense_layers"] = layers
        arch["intermediate_size"] = int(config.get("intermediate_size") or 0)
        if not arch["intermediate_size"]:
            raise FactoryModelError("config.json lacks 'intermediate_size'")
    window = config.get("sliding_window")
    layer_types = config.get("layer_types")
    if window and isinstance(layer_types, list):
        arch["sliding_window_layers"] = sum(1 for t in layer_types if "sliding" in str(t))
        arch["sliding_window_tokens"] = int(window)
    arch["mtp_layers"] = int(config.get("num_nextn_predict_layers", 0) or 0)
    if experts and arch["experts_per_token"] > experts:
        raise FactoryModelError("config.json: num_experts_per_tok exceeds the number of experts")
    quant = config.get("quantization_config") or {}
    method = str(quant.get("quant_method", "")).lower() if isinstance(quant, dict) else ""
    native = {"mxfp4": "nvfp4", "fp8": "fp8", "modelopt": "fp8"}.get(method, "bf16")
    entry = {
        "name": name or str(config.get("_name_or_path") or model_id),
        "hf_id": str(config.get("_name_or_path") or ""),
        "native_precision": native,
        "four_bit_format": "mxfp4" if method == "mxfp4" else "nvfp4",
        "unquantized_tensors": ["embedding", "lm_head"] + (["router"] if experts else []),
        "architecture": {"source": f"{USER}: uploaded config.json", **arch},
        "user_defined": True,
    }
    return parse_model(model_id, entry, f"config.json ({model_id})")


# ------------------------------------------------------------------------------------------------ YAML


def _system_entry(s: System) -> dict:
    def sourced(field: str, value):
        prov = s.sources.get(field, USER)
        key = "assumption" if prov.startswith("assumption: ") else "source"
        text = prov[len("assumption: "):] if key == "assumption" else prov
        return {"value": value, key: text}

    entry: dict[str, Any] = {"name": s.name, "vendor": s.vendor, "architecture": s.architecture,
                             "preliminary": s.preliminary, "user_defined": True,
                             "calibration_system": s.calibration_system or s.id,
                             "year": sourced("year", s.year)}
    entry["peak_dense_tflops"] = {p: sourced(f"peak_dense_tflops.{p}", v) for p, v in s.peak_dense_tflops.items()}
    for field in EDITABLE_SYSTEM_FIELDS:
        entry[field] = sourced(field, getattr(s, field))
    entry["gpu_hour_usd"] = {t: sourced(f"gpu_hour_usd.{t}", v) for t, v in s.gpu_hour_usd.items()}
    return entry


def _model_entry(m: Model) -> dict:
    arch = {"source": m.sources.get("architecture.layers", USER), "attention": m.attention}
    for field in ("layers", "hidden_size", "heads", "kv_heads", "head_dim", "vocab_size", "tie_word_embeddings",
                  "dense_layers", "intermediate_size", "experts", "experts_per_token", "shared_experts",
                  "expert_intermediate_size", "q_lora_rank", "kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim",
                  "v_head_dim", "mtp_layers", "sliding_window_layers", "sliding_window_tokens"):
        value = getattr(m, field)
        if value or field in ("layers", "hidden_size", "heads", "kv_heads", "vocab_size", "dense_layers"):
            arch[field] = value
    return {"name": m.name, "hf_id": m.hf_id, "native_precision": m.native_precision,
            "four_bit_format": m.four_bit_format, "unquantized_tensors": sorted(m.unquantized_tensors),
            "architecture": arch, "user_defined": True}


def to_yaml(systems: list[System], models: list[Model]) -> str:
    """Custom entries as YAML in the catalogs' format (round-trips through :func:`from_yaml`)."""
    doc = {"systems": {s.id: _system_entry(s) for s in systems}, "models": {m.id: _model_entry(m) for m in models}}
    return "# AI Factory Frontier: user-defined entries\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def from_yaml(text: str | bytes, builtin: Catalog | None = None) -> tuple[list[System], list[Model]]:
    """Parse and validate a custom-entries YAML file; errors are one-line :class:`FactoryModelError`.

    The YAML is read without anchors/aliases and with size caps (schemas.load_yaml); an entry may not reuse a
    built-in id of ``builtin`` (default: the package catalog)."""
    doc = schemas.load_yaml(text, "custom entries file")
    if not isinstance(doc, dict) or not set(doc) <= {"systems", "models"}:
        raise FactoryModelError("custom entries file: expected top-level keys 'systems' and/or 'models'")
    doc = schemas.validate(schemas.CustomEntries, doc, "custom entries file").model_dump()
    builtin = builtin or load_catalog()
    for kind, table in (("systems", builtin.systems), ("models", builtin.models)):
        taken = [i for i in (doc.get(kind) or {}) if i in table and not table[i].user_defined]
        if taken:
            raise FactoryModelError(f"custom entries file: {kind}.{taken[0]} is a built-in id; rename the entry")
    systems, models = [], []
    try:
        for system_id, entry in (doc.get("systems") or {}).items():
            check_id(str(system_id))
            if not isinstance(entry, dict):
                raise CatalogError(f"systems.{system_id}: expected a mapping")
            calibration = entry.get("calibration_system", "")
            system = parse_system(str(system_id), {k: v for k, v in entry.items() if k != "calibration_system"},
                                  f"custom file: systems.{system_id}")
            systems.append(dataclasses.replace(system, user_defined=True, calibration_system=str(calibration)))
        for model_id, entry in (doc.get("models") or {}).items():
            check_id(str(model_id), kind="model")
            if not isinstance(entry, dict):
                raise CatalogError(f"models.{model_id}: expected a mapping")
            models.append(dataclasses.replace(parse_model(str(model_id), entry, f"custom file: models.{model_id}"),
                                              user_defined=True))
    except CatalogError as exc:
        raise FactoryModelError(str(exc)) from None
    return systems, models


def with_custom(catalog: Catalog, systems: list[System] = (), models: list[Model] = ()) -> Catalog:
    """The catalog plus user-defined entries; an entry may replace only another user-defined entry, never a
    built-in id."""
    for kind, entries, table in (("system", systems, catalog.systems), ("model", models, catalog.models)):
        for entry in entries:
            if entry.id in table and not table[entry.id].user_defined:
                raise FactoryModelError(f"{kind} '{entry.id}' is a built-in id; give the user-defined entry "
                                        f"another id")
    for s in systems:
        catalog = catalog.with_system(s)
    for m in models:
        catalog = catalog.with_model(m)
    return catalog
