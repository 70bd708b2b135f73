"""A stand-in vLLM server for tests: the real metric names served by prometheus_client over HTTP, and an optional
background "load" that advances them like a server generating ``tokens_per_s`` output tokens."""

import socket
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeVllm:
    def __init__(self):
        self.registry = registry = CollectorRegistry()
        self.tokens = Counter("vllm:generation_tokens", "generated", registry=registry)
        self.prompt = Counter("vllm:prompt_tokens", "prompt", registry=registry)
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "ttft", registry=registry)
        self.tpot = Histogram("vllm:request_time_per_output_token_seconds", "tpot", registry=registry)
        self.running = Gauge("vllm:num_requests_running", "running", registry=registry)
        port = free_port()
        self.server, _ = start_http_server(port, addr="127.0.0.1", registry=registry)
        self.url = f"http://127.0.0.1:{port}/metrics"
        self._stop = threading.Event()
        self._thread = None

    def load(self, tokens_per_s: float = 2000.0, tpot_s: float = 0.02, ttft_s: float = 0.3,
             running: int = 16) -> "FakeVllm":
        """Advance the counters in a background thread: every 50 ms, tokens_per_s/20 tokens, one TPOT and one
        TTFT observation."""
        self.running.set(running)

        def loop():
            while not self._stop.wait(0.05):
                self.tokens.inc(tokens_per_s / 20)
                self.prompt.inc(tokens_per_s / 20)
                self.tpot.observe(tpot_s)
                self.ttft.observe(ttft_s)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
