"""A stand-in for the ``pynvml`` module (nvidia-ml-py) with scripted readings and scripted errors.

It keeps the real module's constants, error classes and ctypes structs (so NvmlSource runs unchanged) and
replaces the functions that would talk to a driver.
"""

import time
import types

import pynvml as real


def make(gpus: int = 2, *, init_error: str | None = None, count_error: str | None = None,
         handle_error: str | None = None, lost: dict[int, int] | None = None, unsupported: set[str] = frozenset(),
         power_w: list[float] | None = None, name: str = "NVIDIA H100 80GB HBM3", driver: str = "580.65.06",
         flaky: dict[str, int] | None = None):
    """A fake pynvml. ``*_error`` name an NVMLError_* class to raise at that call; ``lost`` maps a GPU index to
    the read number after which it raises GpuIsLost; ``unsupported`` lists metrics raising NotSupported;
    ``flaky`` maps a metric to how many times it first raises NVMLError_Unknown (a transient driver error)."""
    fake = types.ModuleType("pynvml")
    for attr in dir(real):
        if attr.startswith(("NVML_", "NVMLError", "c_nvml")):
            setattr(fake, attr, getattr(real, attr))
    state = {"reads": {i: 0 for i in range(gpus)}, "init": 0, "shutdown": 0, "t0": time.monotonic()}
    fake.state = state
    power = power_w or [300.0 + 25.0 * i for i in range(gpus)]

    def err(name):
        return getattr(real, f"NVMLError_{name}")()

    flaky_left = dict(flaky or {})

    def check(i, metric):
        if flaky_left.get(metric, 0) > 0:
            flaky_left[metric] -= 1
            raise err("Unknown")
        if metric in unsupported:
            raise err("NotSupported")
        if lost and i in lost and state["reads"][i] > lost[i]:
            raise err("GpuIsLost")

    def nvmlInit():
        state["init"] += 1
        if init_error:
            raise err(init_error)

    def nvmlShutdown():
        state["shutdown"] += 1

    def nvmlDeviceGetCount():
        if count_error:
            raise err(count_error)
        return gpus

    def nvmlDeviceGetHandleByIndex(i):
        if handle_error:
            raise err(handle_error)
        return i

    def nvmlDeviceGetPowerUsage(i):
        state["reads"][i] += 1
        check(i, "power")
        return int(power[i] * 1000)  # mW

    def nvmlDeviceGetTotalEnergyConsumption(i):
        check(i, "energy")
        return int((time.monotonic() - state["t0"]) * power[i] * 1000)  # mJ: constant power since init

    def nvmlDeviceGetEnforcedPowerLimit(i):
        check(i, "limit")
        return 700_000

    def nvmlDeviceGetClockInfo(i, clock):
        check(i, "clock")
        return 1980 if clock == real.NVML_CLOCK_SM else 2619

    def nvmlDeviceGetUtilizationRates(i):
        check(i, "util")
        u = real.c_nvmlUtilization_t()
        u.gpu, u.memory = 87, 55
        return u

    def nvmlDeviceGetMemoryInfo(i):
        check(i, "memory")
        m = real.c_nvmlMemory_t()
        m.total, m.used, m.free = 80 * 2**30, 70 * 2**30, 10 * 2**30
        return m

    def nvmlDeviceGetTemperature(i, sensor):
        check(i, "temp")
        return 61

    for fn in (nvmlInit, nvmlShutdown, nvmlDeviceGetCount, nvmlDeviceGetHandleByIndex, nvmlDeviceGetPowerUsage,
               nvmlDeviceGetTotalEnergyConsumption, nvmlDeviceGetEnforcedPowerLimit, nvmlDeviceGetClockInfo,
               nvmlDeviceGetUtilizationRates, nvmlDeviceGetMemoryInfo, nvmlDeviceGetTemperature):
        setattr(fake, fn.__name__, fn)
    fake.nvmlDeviceGetName = lambda i: name
    fake.nvmlSystemGetDriverVersion = lambda: driver
    return fake
