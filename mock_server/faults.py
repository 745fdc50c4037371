"""Injected faults: make an operation's next N requests, or a fraction of them, fail or slow down."""
from __future__ import annotations

import random
import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Fault:
    """One fault; `count` None means it fires until removed (or at `rate`, at random)."""

    id: str
    operationId: str
    type: str  # "error" or "latency"
    latencyMs: int | None
    count: int | None
    rate: float | None
    hits: int = 0

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class FaultBoard:
    """Faults in force, drawn per request; thread-safe."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._faults: list[Fault] = []
        self._rng = rng or random.Random()
        self._lock = threading.Lock()

    def add(self, request: dict[str, Any]) -> dict[str, Any]:
        """Store a fault from a (schema-valid) FaultRequest body."""
        fault = Fault(str(uuid.uuid4()), request.get("operationId", "trackUser"), request["type"],
                      request.get("latencyMs"), request.get("count"), request.get("rate"))
        with self._lock:
            self._faults.append(fault)
        return fault.as_json()

    def in_force(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_json() for f in self._faults]

    def clear(self) -> int:
        with self._lock:
            removed = len(self._faults)
            self._faults.clear()
            return removed

    def draw(self, operation_id: str, kind: str) -> list[Fault]:
        """The faults of this kind that fire on this request; counted ones are used up."""
        fired = []
        with self._lock:
            for fault in list(self._faults):
                if fault.operationId != operation_id or fault.type != kind:
                    continue
                if fault.rate is not None and self._rng.random() >= fault.rate:
                    continue
                fault.hits += 1
                fired.append(fault)
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
        return fired
