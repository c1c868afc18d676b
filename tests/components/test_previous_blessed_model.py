"""The local baseline: the latest blessed model other than the candidate (real TFX artifacts, no store needed)."""

from __future__ import annotations

from tfx.components.evaluator import constants
from tfx.types import standard_artifacts

from components.previous_blessed_model import (
    CANDIDATE,
    MODEL,
    MODEL_BLESSING,
    PreviousBlessedModelStrategy,
)
from contracts.serving_dir import ROLLED_BACK_PROPERTY


def model(artifact_id: int) -> standard_artifacts.Model:
    artifact = standard_artifacts.Model()
    artifact.id = artifact_id
    return artifact


def blessing(model_id: int, blessed: bool) -> standard_artifacts.ModelBlessing:
    artifact = standard_artifacts.ModelBlessing()
    artifact.set_int_custom_property(constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model_id)
    artifact.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, 1 if blessed else 0)
    return artifact


def resolve(models, blessings, candidate):
    return PreviousBlessedModelStrategy().resolve_artifacts(
        None, {MODEL: models, MODEL_BLESSING: blessings, CANDIDATE: candidate}
    )


def test_a_new_candidate_gets_the_latest_blessed_model():
    models = [model(1), model(2), model(3), model(4)]  # 4: this run's candidate, not judged yet
    blessings = [blessing(1, True), blessing(2, True), blessing(3, False)]
    result = resolve(models, blessings, [models[3]])
    assert [m.id for m in result[MODEL]] == [2]
    assert result[MODEL_BLESSING] == [blessings[1]]
    assert [m.id for m in result[CANDIDATE]] == [4]


def test_a_candidate_blessed_before_gets_the_model_it_was_judged_against():
    """A rerun with no new data: the cached Trainer's model is the latest blessed one."""
    models = [model(1), model(2), model(3)]
    blessings = [blessing(1, True), blessing(2, False), blessing(3, True)]
    result = resolve(models, blessings, [models[2]])
    assert [m.id for m in result[MODEL]] == [1]  # TFX's own strategy returns 3, the candidate itself


def test_no_other_blessed_model_means_no_baseline():
    only = model(1)
    assert resolve([only], [blessing(1, True)], [only])[MODEL] == []
    assert resolve([], [], [only])[MODEL] == []


def test_a_model_whose_version_was_rolled_back_is_no_baseline():
    models = [model(1), model(2), model(3)]
    withdrawn = blessing(2, True)
    withdrawn.set_int_custom_property(ROLLED_BACK_PROPERTY, 1)  # `python -m orchestration.serving rollback`
    result = resolve(models, [blessing(1, True), withdrawn], [models[2]])
    assert [m.id for m in result[MODEL]] == [1]
