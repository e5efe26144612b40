"""`fibervlm detect train` on synth labels: converts them to the YOLO layout, trains offline, loads back."""

import json
from pathlib import Path

from fibervlm.cli import main


def test_detect_train_from_labels_jsonl(synth_train, tmp_path, capsys, no_network):
    code = main(
        ["detect", "train", "--data", str(synth_train), "--epochs", "1", "--imgsz", "64", "--batch", "4",
         "--out", str(tmp_path)]
    )  # fmt: skip
    assert code == 0 and no_network == []
    weights = Path(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["weights"])
    assert weights.is_file() and (tmp_path / "dataset" / "data.yaml").is_file()

    from fibervlm.detect import YoloDetector

    assert sorted(YoloDetector(weights=weights, imgsz=64).names.values()) == sorted(
        ["scratch", "dig", "chip", "crack", "contamination"]
    )
