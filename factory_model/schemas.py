"""One typed layer for every document a user hands in: bounded parsers plus pydantic v2 schemas.

Every boundary (CLI, Python API, dashboard uploads, URL parameters, recordings) parses user documents here:

* :func:`load_yaml` — YAML without anchors/aliases (no "billion laughs"), with a byte cap, a node cap and a depth
  cap; :func:`load_json` — JSON with a byte cap, no NaN/Infinity, bounded nesting;
* schemas — ``HfConfig`` (config.json), ``CustomEntries`` (What-if YAML), ``ProfileDoc`` (calibration profiles),
  ``SessionMetadata`` (recordings), ``VllmBenchResult`` and ``PointRow`` (benchmark JSON/CSV): types, ranges,
  finite numbers below 2^53, unknown keys refused where the format is ours;
* :func:`validate` — a pydantic error becomes one :class:`FactoryModelError` line naming the field and the fix.

Limits (units in the names) are module constants so the README and the tests quote the same numbers.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import FactoryModelError

MAX_DOCUMENT_BYTES = 2 * 2**20  # a config.json, What-if YAML, profile or benchmark JSON is a few kB
MAX_YAML_NODES = 20_000
MAX_NESTING = 64
MAX_SAFE_INTEGER = 2**53  # numbers at or above this lose integer precision as floats
MAX_TOKENS = 10_000_000  # isl / osl per request
MAX_PARALLEL = 4096  # tp, ep, dp_attention, pp
MAX_CONCURRENCY = 10_000_000
MAX_MTP_DRAFT_TOKENS = 8
MAX_ID_CHARS = 63
MAX_TEXT_CHARS = 500
MAX_SESSION_ROWS = 500_000  # a 1-hour recording of 72 GPUs at 2 Hz is 518k rows: a little over; cap with a note
MAX_SESSION_PHASES = 200
MAX_SESSION_COLUMNS = 64
MAX_POINT_ROWS = 10_000
MAX_UPLOAD_MB = 50  # .streamlit/config.toml server.maxUploadSize: a long Parquet recording fits

# ------------------------------------------------------------------------------------------- loaders


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases and caps nodes and depth while composing."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused("anchors and aliases (&, *) are not allowed")
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise _Refused(f"more than {MAX_YAML_NODES:,} values")
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise _Refused(f"nested deeper than {MAX_NESTING} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Refused(Exception):
    pass


def _as_text(raw: str | bytes, what: str) -> str:
    if isinstance(raw, bytes):
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise FactoryModelError(f"{what}: larger than {MAX_DOCUMENT_BYTES // 2**20} MB; is it the right file?")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FactoryModelError(f"{what}: not UTF-8 text") from None
    if not isinstance(raw, str):
        raise FactoryModelError(f"{what}: expected text")
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise FactoryModelError(f"{what}: larger than {MAX_DOCUMENT_BYTES // 2**20} MB; is it the right file?")
    return raw


def load_yaml(raw: str | bytes, what: str) -> Any:
    """Parse user YAML: one document, no anchors/aliases, bounded size, values and depth."""
    text = _as_text(raw, what)
    try:
        loader = _NoAliasLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except _Refused as exc:
        raise FactoryModelError(f"{what}: {exc}; write the values out in full") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise FactoryModelError(f"{what}: malformed YAML{where}") from None
    except (RecursionError, MemoryError, ValueError, OverflowError, TypeError):
        raise FactoryModelError(f"{what}: YAML too deeply nested or malformed") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def load_json(raw: str | bytes, what: str) -> Any:
    """Parse user JSON: bounded size and depth, no NaN/Infinity, integers of at most 4,300 digits."""
    text = _as_text(raw, what)
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise FactoryModelError(f"{what}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (RecursionError, MemoryError):
        raise FactoryModelError(f"{what}: JSON nested too deeply") from None
    except ValueError:
        raise FactoryModelError(f"{what}: NaN, Infinity or a number too long to be a count") from None


# -------------------------------------------------------------------------------------------- types

Finite = Annotated[float, Field(allow_inf_nan=False, gt=-MAX_SAFE_INTEGER, lt=MAX_SAFE_INTEGER)]
Positive = Annotated[float, Field(allow_inf_nan=False, gt=0, lt=MAX_SAFE_INTEGER)]
NonNegative = Annotated[float, Field(allow_inf_nan=False, ge=0, lt=MAX_SAFE_INTEGER)]
Count = Annotated[int, Field(ge=1, lt=MAX_SAFE_INTEGER)]
Tokens = Annotated[int, Field(ge=1, le=MAX_TOKENS)]
Parallel = Annotated[int, Field(ge=1, le=MAX_PARALLEL)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]  # an id as recorded (checked later)
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


def _fix(kind: str) -> str:
    return {"greater_than": "use a positive number", "greater_than_equal": "use a larger number",
            "less_than": "use a smaller number", "less_than_equal": "use a smaller number",
            "finite_number": "use a finite number", "extra_forbidden": "remove it (check the spelling)",
            "missing": "add it", "int_parsing": "use a whole number", "int_from_float": "use a whole number",
            "float_parsing": "use a number", "string_pattern_mismatch":
                "use lower-case letters, digits, '.', '_' or '-'", "string_too_long": "shorten it",
            "dict_type": "use a mapping (key: value)", "list_type": "use a list",
            "too_long": "give fewer entries", "bool_parsing": "use true or false"}.get(kind, "see the README")


def validate(schema: type[BaseModel], data: Any, what: str) -> BaseModel:
    """``schema`` applied to ``data``; the first problem as one FactoryModelError line (field, problem, fix)."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) if len(str(p)) <= 40 else str(p)[:40] + "…" for p in err["loc"])[:120]
        got = err.get("input")
        shown = "" if err["type"] in ("missing", "extra_forbidden") or isinstance(got, (dict, list)) \
            else f", got {str(got)[:40]!r}"
        field = f" '{loc}'" if loc else ""
        if err["type"] == "missing":
            raise FactoryModelError(f"{what}: missing '{loc}'; add it") from None
        raise FactoryModelError(f"{what}:{field} {err['msg'].lower()}{shown}; {_fix(err['type'])}") from None
    except RecursionError:
        raise FactoryModelError(f"{what}: nested too deeply") from None


def finite_number(name: str, value: Any, *, gt: float | None = None, ge: float | None = None,
                  lt: float | None = None, le: float | None = None, integer: bool = False, fix: str = ""):
    """One API/CLI number: finite, a real number (not text or bool), within the bounds, below 2^53."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            raise FactoryModelError(f"{name} must be a number, got text {value[:40]!r}")
        raise FactoryModelError(f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, int) and abs(value) >= MAX_SAFE_INTEGER:
        raise FactoryModelError(f"{name} is too large ({str(value)[:20]}...); {fix or 'use a realistic value'}")
    if not math.isfinite(value) or abs(value) >= MAX_SAFE_INTEGER:
        raise FactoryModelError(f"{name} must be a finite number, got {value!r}; {fix or 'use a realistic value'}")
    bounds = [(gt, lambda v, b: v > b, "above"), (ge, lambda v, b: v >= b, "at least"),
              (lt, lambda v, b: v < b, "below"), (le, lambda v, b: v <= b, "at most")]
    for bound, ok, word in bounds:
        if bound is not None and not ok(value, bound):
            rule = "positive" if (word, bound) == ("above", 0) else "not negative" if (word, bound) == (
                "at least", 0) else f"{word} {bound!r}"
            verb = "must not be negative" if rule == "not negative" else f"must be {rule}"
            raise FactoryModelError(f"{name} {verb}, got {value!r}" + (f"; {fix}" if fix else ""))
    if integer:
        if float(value) != int(value):
            raise FactoryModelError(f"{name} must be a whole number, got {value!r}")
        return int(value)
    return value


# ----------------------------------------------------------------------------------- config.json


class HfConfig(BaseModel):
    """The fields of a Hugging Face config.json the model reads (others are ignored: configs carry many)."""

    model_config = ConfigDict(extra="allow", strict=True)  # JSON has real types: "32" is not a layer count
    num_hidden_layers: Annotated[int, Field(ge=1, le=1000)]
    hidden_size: Annotated[int, Field(ge=1, le=1_000_000)]
    num_attention_heads: Annotated[int, Field(ge=1, le=10_000)]
    vocab_size: Annotated[int, Field(ge=1, le=100_000_000)]
    num_key_value_heads: Annotated[int, Field(ge=1, le=10_000)] | None = None
    head_dim: Annotated[int, Field(ge=1, le=100_000)] | None = None
    intermediate_size: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    moe_intermediate_size: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    n_routed_experts: Annotated[int, Field(ge=0, le=100_000)] | None = None
    num_local_experts: Annotated[int, Field(ge=0, le=100_000)] | None = None
    num_experts: Annotated[int, Field(ge=0, le=100_000)] | None = None
    num_experts_per_tok: Annotated[int, Field(ge=0, le=100_000)] | None = None
    experts_per_token: Annotated[int, Field(ge=0, le=100_000)] | None = None
    n_shared_experts: Annotated[int, Field(ge=0, le=100_000)] | None = None
    num_shared_experts: Annotated[int, Field(ge=0, le=100_000)] | None = None
    first_k_dense_replace: Annotated[int, Field(ge=0, le=1000)] | None = None
    kv_lora_rank: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    q_lora_rank: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    qk_rope_head_dim: Annotated[int, Field(ge=1, le=100_000)] | None = None
    qk_nope_head_dim: Annotated[int, Field(ge=1, le=100_000)] | None = None
    v_head_dim: Annotated[int, Field(ge=1, le=100_000)] | None = None
    sliding_window: Annotated[int, Field(ge=0, le=MAX_TOKENS)] | None = None
    layer_types: Annotated[list[Text], Field(max_length=1000)] | None = None
    num_nextn_predict_layers: Annotated[int, Field(ge=0, le=MAX_MTP_DRAFT_TOKENS)] | None = None
    tie_word_embeddings: bool | None = None
    quantization_config: dict | None = None
    name_or_path: Text | None = Field(default=None, alias="_name_or_path")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value, info):
        if isinstance(value, bool) and info.field_name != "tie_word_embeddings":
            raise ValueError("expected a number, not true/false")
        return value


def hf_config(doc: Any) -> dict:
    """A validated config.json (its ``text_config`` merged for multimodal configs) as a plain dict."""
    if not isinstance(doc, dict):
        raise FactoryModelError("config.json must hold a JSON object ({...})")
    if isinstance(doc.get("text_config"), dict):
        doc = {**doc, **doc["text_config"]}
    parsed = validate(HfConfig, doc, "config.json")
    return {**doc, **parsed.model_dump(exclude_none=True, exclude={"name_or_path"})}


# --------------------------------------------------------------------------------- What-if YAML


class CustomEntries(BaseModel):
    """Top level of a What-if file: ``systems`` and/or ``models``, each a mapping of id -> entry (at most 200)."""

    model_config = ConfigDict(extra="forbid")
    systems: Annotated[dict[Id, dict], Field(max_length=200)] | None = None
    models: Annotated[dict[Id, dict], Field(max_length=200)] | None = None


# ------------------------------------------------------------------------------------------ profile

ProvenanceValue = Annotated[str, Field(max_length=MAX_TEXT_CHARS)] | Finite | bool | None


class ProfileFactor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: Text
    precision: Text
    op_class: Text
    parameter: Text
    value: NonNegative
    prior: NonNegative | None = None


class ProfileDoc(BaseModel):
    """A calibration profile (fit.profile_yaml writes it)."""

    model_config = ConfigDict(extra="forbid")
    profile: Annotated[str, Field(min_length=1, max_length=100)]
    provenance: Annotated[dict[Annotated[str, Field(max_length=100)], ProvenanceValue], Field(max_length=100)]
    factors: Annotated[list[ProfileFactor], Field(min_length=1, max_length=1000)]
    # NaN allowed (a figure the fit could not compute, written as .nan); text, null and nesting are not
    power: Annotated[dict[Annotated[str, Field(max_length=100)], float], Field(max_length=100)] = {}
    error_before_pct: Annotated[dict[Annotated[str, Field(max_length=100)], float], Field(max_length=100)] = {}
    error_after_pct: Annotated[dict[Annotated[str, Field(max_length=100)], float], Field(max_length=100)] = {}

    @field_validator("profile", mode="before")
    @classmethod
    def _name_as_text(cls, value):
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


# -------------------------------------------------------------------------------- session metadata


def _whole(value):
    """'16', '16.0', 16.0 -> 16; anything else is left for the int validator to refuse."""
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        if math.isfinite(number) and number == int(number) and abs(number) < MAX_SAFE_INTEGER:
            return int(number)
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < MAX_SAFE_INTEGER:
        return int(value)
    return value


class _Deployment(BaseModel):
    """What every measured record names: system, model, precision, lengths and attention tensor parallelism."""

    model_config = ConfigDict(extra="allow")
    system: Name
    model: Name
    precision: Name
    isl: Tokens
    osl: Tokens
    tp: Parallel

    @field_validator("isl", "osl", "tp", mode="before")
    @classmethod
    def _whole_lengths(cls, value):
        return _whole(value)


class SessionMetadata(_Deployment):
    """The deployment a recording measured (``# key: value`` lines of a session CSV, Parquet metadata)."""

    ep: Parallel = 1
    dp_attention: Parallel = 1
    pp: Parallel = 1

    @field_validator("ep", "dp_attention", "pp", mode="before")
    @classmethod
    def _whole_numbers(cls, value):
        return _whole(value)


def session_metadata(meta: Any, what: str) -> dict:
    if not isinstance(meta, dict):
        raise FactoryModelError(f"{what}: session metadata must be a mapping of key: value")
    if len(meta) > 100:
        raise FactoryModelError(f"{what}: more than 100 metadata entries")
    extra = {str(k)[:100]: (v if isinstance(v, (int, float, bool)) or v is None else str(v)[:MAX_TEXT_CHARS])
             for k, v in meta.items()}
    parsed = validate(SessionMetadata, extra, f"{what}: metadata")
    return {**extra, **parsed.model_dump(exclude={k for k in parsed.model_extra or {}})}


# ----------------------------------------------------------------------------------------- benchmarks


class VllmBenchResult(BaseModel):
    """The fields of a vLLM ``bench serve --save-result`` JSON the import reads (others ignored)."""

    model_config = ConfigDict(extra="allow")
    completed: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=MAX_SAFE_INTEGER)]
    duration: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=1e9)]
    total_input_tokens: NonNegative
    total_output_tokens: Positive
    median_tpot_ms: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=1e7)] | None = None
    mean_tpot_ms: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=1e7)] | None = None
    median_ttft_ms: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=1e8)] | None = None
    mean_ttft_ms: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=1e8)] | None = None
    output_throughput: Positive | None = None
    max_concurrency: Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_CONCURRENCY)] | None = None
    num_prompts: Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_CONCURRENCY)] | None = None
    label: Text | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value):
        if isinstance(value, bool):
            raise ValueError("expected a number, not true/false")
        return value


class PointRow(_Deployment):
    """One row of the reference measured-points CSV format (data/reference/)."""

    backend: Text
    moe_ep: Parallel
    dp_attention: Parallel
    gpus: Parallel
    concurrency: Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_CONCURRENCY)]
    output_tokens_per_s_per_gpu: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=1e8)]
    tokens_per_s_per_user: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=1e6)]
    ttft_ms: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=1e8)]
    tpot_ms: Annotated[float, Field(allow_inf_nan=False, gt=0, lt=1e7)]

    @field_validator("moe_ep", "dp_attention", "gpus", mode="before")
    @classmethod
    def _whole_numbers(cls, value):
        return _whole(value)
