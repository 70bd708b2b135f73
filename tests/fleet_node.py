"""A stand-in fleet node for the Prometheus tests: serves DCGM-style GPU power and vLLM-style token counters.

python tests/fleet_node.py PORT NODE_NAME GPUS BASE_WATTS — tokens grow by 1000/s per node while it runs.
"""

import sys
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

port, node, gpus, base = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
registry = CollectorRegistry()
power = Gauge("DCGM_FI_DEV_POWER_USAGE", "Power draw (W)", ["gpu", "Hostname", "modelName"], registry=registry)
clock = Gauge("DCGM_FI_DEV_SM_CLOCK", "SM clock (MHz)", ["gpu", "Hostname", "modelName"], registry=registry)
tokens = Counter("vllm:generation_tokens", "Generated tokens", registry=registry)
for g in range(gpus):
    power.labels(str(g), node, "NVIDIA H100 80GB HBM3").set(base + 10 * g)
    clock.labels(str(g), node, "NVIDIA H100 80GB HBM3").set(1980)
start_http_server(port, addr="127.0.0.1", registry=registry)
while True:
    time.sleep(0.1)
    tokens.inc(100)
