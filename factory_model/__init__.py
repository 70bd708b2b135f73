"""AI Factory Frontier's modelling package: what a GPU system earns per megawatt, at what speed per user.

Pure Python + numpy/pandas; never imports Streamlit. Entry points:

* :func:`estimate` / :func:`estimate_table`: TTFT, TPOT and throughput of given deployments;
* :func:`load_catalog`: systems, models, precisions and workloads with their sources;
* :func:`load_factors`: efficiency and serving factors (priors + a calibration profile).

Command line: ``python -m factory_model --help``.
"""

from .catalog import Catalog, Model, System, load_catalog
from .errors import CatalogError, FactoryModelError
from .estimate import estimate, estimate_table
from .factors import Factors, load_factors

__all__ = ["Catalog", "CatalogError", "FactoryModelError", "Factors", "Model", "System", "estimate",
           "estimate_table", "load_catalog", "load_factors"]
