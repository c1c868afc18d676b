"""What the HeadGate and the PerHeadReport need from the config, as one typed object.

Heads with their gates (the TFMA metric key and the metric's direction come
from trainer/specs.py, next to the head spec), the gated slicings, the
smallest slice that gates, the confidence of the change's interval, and the
model's raw inputs (what the report's drift table compares). The pipeline builds
it from the config (PipelineConfig.evaluation_plan); it travels to the
components as one JSON parameter (`to_json`), the same text on every run
of the same config, so a cached gate stays cached.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from trainer.specs import HeadSpec


@dataclasses.dataclass(frozen=True)
class EvaluationPlan:
    heads: tuple[HeadSpec, ...]
    gated_slices: tuple[tuple[str, ...], ...]
    min_slice_examples: int
    confidence: float
    inputs: tuple[str, ...] = ()

    def head(self, name: str) -> HeadSpec:
        return next(head for head in self.heads if head.name == name)

    @staticmethod
    def head_dict(head: HeadSpec) -> dict[str, Any]:
        """A head as plain data, its gate with the TFMA key (for JSON readers: summary.json, gate.json)."""
        data = dataclasses.asdict(head)
        data["gate"]["key"] = head.gate_key
        return data

    def to_dict(self) -> dict[str, Any]:
        return {
            "heads": [self.head_dict(head) for head in self.heads],
            "gated_slices": [list(s) for s in self.gated_slices],
            "min_slice_examples": self.min_slice_examples,
            "confidence": self.confidence,
            "inputs": list(self.inputs),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationPlan:
        return cls(
            heads=tuple(HeadSpec.from_dict(head) for head in data["heads"]),
            gated_slices=tuple(tuple(s) for s in data["gated_slices"]),
            min_slice_examples=int(data["min_slice_examples"]),
            confidence=float(data["confidence"]),
            inputs=tuple(data.get("inputs", ())),
        )

    @classmethod
    def from_json(cls, text: str) -> EvaluationPlan:
        return cls.from_dict(json.loads(text))
