"""AI Factory Frontier's modelling package: what a GPU system earns per megawatt, at what speed per user.

Pure Python + numpy/pandas; never imports Streamlit. Entry points:

* :func:`estimate` / :func:`estimate_table`: TTFT, TPOT and throughput of given deployments;
* :func:`load_catalog`: systems, models, precisions and workloads with their sources;
* :func:`load_factors`: efficiency and serving factors (priors + a calibration profile);
* :func:`frontier` / :func:`compare` / :func:`economics`: the throughput-per-MW vs tokens/s/user Pareto
  frontier of a scenario with power and economics columns, several systems side by side, re-pricing.

Command line: ``python -m factory_model --help``.
"""

from .catalog import Catalog, Model, System, load_catalog
from .errors import CatalogError, FactoryModelError
from .estimate import estimate, estimate_table
from .economics import EconomicsOptions
from .factors import Factors, load_factors
from .scenario import compare, economics, frontier, summary

__all__ = ["Catalog", "CatalogError", "EconomicsOptions", "FactoryModelError", "Factors", "Model", "System",
           "compare", "economics", "estimate", "estimate_table", "frontier", "load_catalog", "load_factors",
           "summary"]
