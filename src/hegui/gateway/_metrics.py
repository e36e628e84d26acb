"""Counters and a latency histogram in the Prometheus text format (no client library)."""

from __future__ import annotations

import threading
from collections import Counter

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

_HELP = {
    "hegui_gateway_requests_total": ("counter", "Requests answered, by route and status."),
    "hegui_gateway_blocks_total": ("counter", "Blocked texts, by direction and detector."),
    "hegui_gateway_upstream_errors_total": ("counter", "Upstream failures, by kind."),
    "hegui_gateway_suspensions_total": ("counter", "Principals suspended by the abuse rule."),
    "hegui_gateway_streams_cut_total": ("counter", "Streams cut by the kill switch."),
    "hegui_gateway_incidents_opened_total": ("counter", "Incidents opened by the gateway."),
}


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    body = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(10), "").replace(chr(34), "")}"'
        for k, v in pairs
    )
    return "{" + body + "}"


class Metrics:
    """The gateway's metrics; one instance per app (on ``app.state``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, Counter[tuple[tuple[str, str], ...]]] = {
            name: Counter() for name in _HELP
        }
        self._buckets = [0] * len(LATENCY_BUCKETS)
        self._sum = 0.0
        self._count = 0

    def inc(self, name: str, **labels: str) -> None:
        """Add one to a counter."""
        with self._lock:
            self._counters[name][tuple(sorted(labels.items()))] += 1

    def observe_latency(self, seconds: float) -> None:
        """Record the time the gateway itself added to one request."""
        with self._lock:
            self._sum += seconds
            self._count += 1
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1

    def render(self) -> str:
        """The exposition text (``text/plain; version=0.0.4``)."""
        lines: list[str] = []
        with self._lock:
            for name, (kind, help_) in _HELP.items():
                lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
                for key, value in sorted(self._counters[name].items()):
                    lines.append(f"{name}{_labels(key)} {value}")
            name = "hegui_gateway_added_latency_seconds"
            lines += [
                f"# HELP {name} Time the gateway added to a request, upstream time excluded.",
                f"# TYPE {name} histogram",
            ]
            for bound, count in zip(LATENCY_BUCKETS, self._buckets, strict=True):
                lines.append(f'{name}_bucket{{le="{bound}"}} {count}')
            lines.append(f'{name}_bucket{{le="+Inf"}} {self._count}')
            lines.append(f"{name}_sum {self._sum}")
            lines.append(f"{name}_count {self._count}")
        return "\n".join(lines) + "\n"
