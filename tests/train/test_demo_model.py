"""The bundled demo VLM (`models/vlm/tiny-demo/`) reads the image: scored on fresh faces of its own recipe."""

from __future__ import annotations

from pathlib import Path

from fibervlm.config import load_config
from fibervlm.paths import CONFIGS_DIR, DEMO_VLM_DIR, demo_vlm
from fibervlm.synth.config import SynthConfig
from fibervlm.synth.dataset import write_dataset
from fibervlm.train.demo import VlmDemoConfig
from fibervlm.train.holdout import evaluate_holdout


def test_the_bundled_demo_model_beats_the_majority_answer_on_fresh_faces(tmp_path: Path) -> None:
    assert demo_vlm() == str(DEMO_VLM_DIR), "models/vlm/tiny-demo/ ships with the repository"
    demo = load_config(VlmDemoConfig, CONFIGS_DIR / "train" / "tiny-demo.yaml")
    write_dataset(out=tmp_path, n=24, seed=303, config=SynthConfig(**demo.synth))  # not train, not hold-out
    majority = {"pass_fail": "PASS", "n_defects": 0}
    metrics = evaluate_holdout(
        model=str(DEMO_VLM_DIR), adapter=None, holdout=str(tmp_path), batch_size=12, baseline=majority
    )
    assert metrics["json_validity"] == 1.0
    assert metrics["pass_fail_accuracy"] >= 0.85 > metrics["baseline_pass_fail_accuracy"]
    assert metrics["defect_count_accuracy"] >= 0.75 > metrics["baseline_defect_count_accuracy"]
