"""The baseline on LocalDagRunner: the latest blessed model OTHER than this run's candidate.

TFX's LatestBlessedModelStrategy returns the latest blessed model, which after
a push is the candidate itself. A rerun with no new data (every component up to
the Trainer reused from the cache, so the candidate is the model just pushed)
then gets a new baseline, so the Evaluator, the gate, the Pusher and the report
all run again to compare the model with itself. Leaving the candidate out gives
the rerun the baseline its model was first judged against: every input of the
Evaluator and of the nodes after it is unchanged, and they are reused from the
cache too. For a new model nothing changes: it is never blessed yet, so the
latest blessed model other than it is the latest blessed model. A model whose
version was rolled back (`python -m orchestration.serving rollback`) is skipped.
"""

from __future__ import annotations

from tfx import types
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy

from contracts.serving_dir import ROLLED_BACK_PROPERTY

MODEL = "model"
MODEL_BLESSING = "model_blessing"
CANDIDATE = "candidate"


class PreviousBlessedModelStrategy(LatestBlessedModelStrategy):
    """Resolver strategy: inputs `model` and `model_blessing` (all of them) and `candidate` (this run's model)."""

    def resolve_artifacts(self, store, input_dict: dict[str, list[types.Artifact]]) -> dict[str, list[types.Artifact]]:
        candidate_ids = {artifact.id for artifact in input_dict.get(CANDIDATE, [])}
        others = [model for model in input_dict.get(MODEL, []) if model.id not in candidate_ids]
        # A model whose pushed version was rolled back (orchestration/serving.py) is no baseline any more.
        standing = [
            b for b in input_dict.get(MODEL_BLESSING, []) if b.get_int_custom_property(ROLLED_BACK_PROPERTY) != 1
        ]
        result = self._resolve({MODEL: others, MODEL_BLESSING: standing}, MODEL, MODEL_BLESSING)
        result[CANDIDATE] = list(input_dict.get(CANDIDATE, []))
        return result
