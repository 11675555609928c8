"""Prometheus metrics in the text exposition format (version 0.0.4), kept without a dependency:
a few counters and one histogram, thread-safe, rendered at ``GET /metrics``."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds: decisions take well under a millisecond to decide, a few to log.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: Labels = ()) -> str:
    items = labels + extra
    if not items:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in items) + "}"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help: str, label_names: Iterable[str] = ()) -> None:
        self.name = name
        self.help = help
        self.label_names = tuple(label_names)
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def _key(self, labels: dict[str, str]) -> Labels:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(labels)}")
        return tuple((name, labels[name]) for name in self.label_names)

    def preset(self, **labels: str) -> None:
        """Show a label set at 0 before anything happens, so that rates start from a sample."""
        key = self._key(labels)
        with self._lock:
            self._values.setdefault(key, 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.label_names:
            items = [((), 0.0)]
        lines += [f"{self.name}{_labels(key)} {_number(value)}" for key, value in items]
        return lines


class Gauge(Counter):
    """A value that goes up and down (set, not incremented)."""

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()

    def render(self) -> list[str]:
        lines = super().render()
        lines[1] = f"# TYPE {self.name} gauge"
        return lines


class Histogram:
    """Observations counted into cumulative buckets, with their sum and count."""

    def __init__(
        self,
        name: str,
        help: str,
        label_names: Iterable[str] = (),
        buckets: tuple[float, ...] = LATENCY_BUCKETS,
    ) -> None:
        self.name = name
        self.help = help
        self.label_names = tuple(label_names)
        self.buckets = tuple(sorted(buckets))
        # Per label set: counts per bucket (the last one is +Inf), the sum.
        self._counts: dict[Labels, list[int]] = {}
        self._sums: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, **labels: str) -> None:
        key = tuple((name, labels[name]) for name in self.label_names)
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            counts = self._counts.get(key)
            if counts is None:
                counts = self._counts[key] = [0] * (len(self.buckets) + 1)
                self._sums[key] = 0.0
            counts[index] += 1
            self._sums[key] += value

    def count(self, **labels: str) -> int:
        key = tuple((name, labels[name]) for name in self.label_names)
        with self._lock:
            return sum(self._counts.get(key, ()))

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            items = sorted(
                (key, list(counts), self._sums[key]) for key, counts in self._counts.items()
            )
        for key, counts, total in items:
            running = 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                le = (("le", _number(bound)),)
                lines.append(f"{self.name}_bucket{_labels(key, le)} {running}")
            lines.append(f"{self.name}_sum{_labels(key)} {_number(total)}")
            lines.append(f"{self.name}_count{_labels(key)} {running}")
        return lines


class ServiceMetrics:
    """Everything ``/metrics`` shows for one service process."""

    def __init__(self) -> None:
        self.decisions = Counter(
            "policy_engine_decisions_total",
            "Decisions answered, by effect (allow or deny).",
            ("effect",),
        )
        for effect in ("allow", "deny"):
            self.decisions.preset(effect=effect)
        self.latency = Histogram(
            "policy_engine_decision_duration_seconds",
            "Time to decide (and log) one decision request, by endpoint; a batch is one "
            "observation.",
            ("endpoint",),
        )
        self.reloads = Counter(
            "policy_engine_policy_reloads_total",
            "Policy reloads, by outcome (success or failure) and trigger (api, signal, watch).",
            ("outcome", "trigger"),
        )
        for outcome in ("success", "failure"):
            for trigger in ("api", "signal", "watch"):
                self.reloads.preset(outcome=outcome, trigger=trigger)
        self.log_write_failures = Counter(
            "policy_engine_decision_log_write_failures_total",
            "Decision-log appends that failed (the decisions were not returned).",
        )
        self.policy_info = Gauge(
            "policy_engine_policy_info",
            "The policy being served (always 1), labelled with its version hash.",
            ("version",),
        )
        self.policy_loaded = Gauge(
            "policy_engine_policy_loaded_timestamp_seconds",
            "When the policy being served was loaded (Unix time).",
        )

    def policy_loaded_now(self, version: str, when: float) -> None:
        self.policy_info.clear()
        self.policy_info.set(1, version=version)
        self.policy_loaded.set(when)

    def render(self) -> str:
        lines: list[str] = []
        for metric in (
            self.decisions,
            self.latency,
            self.reloads,
            self.log_write_failures,
            self.policy_info,
            self.policy_loaded,
        ):
            lines += metric.render()
        return "\n".join(lines) + "\n"
