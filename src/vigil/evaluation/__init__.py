"""evaluation stage: MOTChallenge files and tracking scores (HOTA, CLEAR MOT, IDF1) via TrackEval."""

from vigil.evaluation.mot_eval import (
    MotScores,
    evaluate_arrays,
    evaluate_mot,
    format_scores,
)
from vigil.evaluation.motchallenge import MotWriter, read_mot

__all__ = ["MotScores", "MotWriter", "evaluate_arrays", "evaluate_mot", "format_scores", "read_mot"]
