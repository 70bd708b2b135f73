"""Catalogs load, every number has a source, and bad files fail loudly with file and key named."""

import shutil
import pytest

from factory_model.catalog import DATA_DIR, flatten_sourced, load_catalog
from factory_model.errors import CatalogError, FactoryModelError
from factory_model.factors import load_factors

REQUIRED_SYSTEMS = ["h100-sxm", "h200-sxm", "b200-sxm", "b300-sxm", "gb200-nvl72", "gb300-nvl72", "rubin-nvl72"]
REQUIRED_MODELS = ["llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "deepseek-r1", "gpt-oss-120b",
                   "gpt-oss-20b", "kimi-k2", "qwen3-235b-a22b"]


def test_canonical_ids_present(catalog):
    assert set(REQUIRED_SYSTEMS) <= set(catalog.systems)
    assert set(REQUIRED_MODELS) <= set(catalog.models)
    assert set(catalog.precisions) == {"bf16", "fp8", "nvfp4"}
    assert {(w.isl_tokens, w.osl_tokens) for w in catalog.workloads.values()} >= {
        (1024, 1024), (1024, 8192), (8192, 1024), (32768, 8192)}


def test_rubin_is_marked_preliminary(catalog):
    assert catalog.system("rubin-nvl72").preliminary
    assert not catalog.system("h100-sxm").preliminary


def test_every_number_has_a_source(catalog):
    for system in catalog.systems.values():
        for field in ("hbm_bandwidth_tb_s", "hbm_capacity_gib", "gpu_tdp_w", "all_in_power_kw_per_gpu",
                      "capex_usd_per_gpu", "peak_dense_tflops.bf16", "gpu_hour_usd.rental"):
            assert system.sources.get(field), (system.id, field)
    for model in catalog.models.values():
        assert model.sources.get("architecture.layers"), model.id


def test_hopper_has_no_fp4(catalog):
    assert catalog.system("h100-sxm").peak_flops("fp4") is None
    assert catalog.system("b200-sxm").peak_flops("fp4") == 9000e12


def test_unknown_id_suggests_closest(catalog):
    with pytest.raises(FactoryModelError, match="did you mean 'h100-sxm'"):
        catalog.system("h100")
    with pytest.raises(FactoryModelError, match="did you mean 'deepseek-r1'"):
        catalog.model("deepseek-r2")


def test_number_without_source_fails_with_key():
    with pytest.raises(CatalogError, match=r"x\.gpu_tdp_w: number 700 has no source"):
        flatten_sourced({"gpu_tdp_w": 700}, "x")


def test_block_source_is_inherited():
    flat = flatten_sourced({"arch": {"source": "[K]", "layers": 80}}, "m")
    assert flat["arch.layers"] == (80, "[K]")


@pytest.fixture()
def data_copy(tmp_path):
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    yield target
    load_catalog.cache_clear()
    load_factors.cache_clear()


def test_malformed_yaml_names_file_and_line(data_copy):
    (data_copy / "systems.yaml").write_text("h100-sxm:\n  name: [unclosed\n")
    with pytest.raises(CatalogError, match=r"systems\.yaml: malformed YAML at line"):
        load_catalog(data_copy)


def test_missing_source_in_catalog_file_names_key(data_copy):
    text = (data_copy / "systems.yaml").read_text()
    text = text.replace('gpu_tdp_w: {value: 700, source: "specs §1.3 [AIC-H100]"}', "gpu_tdp_w: 700", 1)
    (data_copy / "systems.yaml").write_text(text)
    with pytest.raises(CatalogError, match=r"h100-sxm\.gpu_tdp_w: number 700 has no source"):
        load_catalog(data_copy)


def test_negative_number_rejected(data_copy):
    text = (data_copy / "systems.yaml").read_text()
    text = text.replace("hbm_bandwidth_tb_s: {value: 3.35", "hbm_bandwidth_tb_s: {value: -3.35", 1)
    (data_copy / "systems.yaml").write_text(text)
    with pytest.raises(CatalogError, match="hbm_bandwidth_tb_s: must be positive"):
        load_catalog(data_copy)


def test_factor_without_source_fails(data_copy):
    path = data_copy / "efficiency_factors.csv"
    lines = path.read_text().splitlines()
    parts = lines[1].split(",")
    lines[1] = ",".join(parts[:5]) + ","
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CatalogError, match=r"efficiency_factors\.csv row 2, column source"):
        load_factors("uncalibrated", data_copy)


def test_missing_catalog_file(data_copy):
    (data_copy / "models.yaml").unlink()
    with pytest.raises(CatalogError, match="models.yaml: file not found"):
        load_catalog(data_copy)


def test_every_efficiency_row_is_sourced(priors):
    assert priors.rows()
    for row in priors.rows():
        assert row.source.strip()


def test_every_source_key_resolves():
    """Each [KEY] cited anywhere in data/ has an address in data/sources.yaml."""
    import re

    import yaml

    keys = yaml.safe_load((DATA_DIR / "sources.yaml").read_text())["keys"]
    for path in list(DATA_DIR.glob("*.yaml")) + list(DATA_DIR.glob("*.csv")):
        for key in re.findall(r"\[([A-Z][A-Z0-9-]+)\]", path.read_text()):
            assert key in keys, (path.name, key)
            assert keys[key].strip()
