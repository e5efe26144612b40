"""The real CLI on tiny inputs: `inspect --no-vlm` over good and bad files, and the registry commands."""

import json

from fibervlm.cli import main
from fibervlm.registry import publish
from fibervlm.synth import SynthConfig, encode_png, sample_endface


def test_inspect_no_vlm_reports_each_image_and_fails_after_the_rest(tmp_path, capsys):
    # The standard look: this is about the CLI going on after a bad file, not about hard looks.
    standard = SynthConfig(appearance="standard")
    image, label = sample_endface(seed=11, index=0, profile="sm-pc", config=standard)
    good = tmp_path / "face.png"
    good.write_bytes(encode_png(image))
    bad = tmp_path / "broken.png"
    bad.write_bytes(encode_png(image)[:200])
    assert main(["inspect", str(bad), str(good), "--no-vlm", "--profile", "sm-pc"]) == 1
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["status"] == "error" and "truncated" in first["error"]
    assert second["status"] == "ok" and second["report"]["profile"] == "sm-pc"
    found = second["report"]["zones"]["center_px"]
    truth = label.zones.center_px
    assert abs(found[0] - truth[0]) < 2 and abs(found[1] - truth[1]) < 2
    assert second["report"]["pass_fail"] in ("PASS", "FAIL")
    assert second["report"]["provenance"]["grading_table"] == "iec61300-3-35-ed2/sm-pc"


def test_inspect_says_unsure_plainly_and_exits_3(tmp_path, capsys):
    """A blurred face gets no verdict: its line says unsure and why, stderr says it, exit status 3."""
    blurred_config = SynthConfig(blur_sigma_px=(3.0, 3.0), um_per_px=(0.5, 0.5), appearance="standard")
    blurred = tmp_path / "blurred.png"
    blurred.write_bytes(encode_png(sample_endface(seed=11, index=0, config=blurred_config)[0]))
    sharp = tmp_path / "sharp.png"
    standard = SynthConfig(appearance="standard", frame="base")
    sharp.write_bytes(encode_png(sample_endface(seed=11, index=0, profile="mm-pc", config=standard)[0]))
    assert main(["inspect", str(blurred), str(sharp), "--no-vlm"]) == 3
    out, err = capsys.readouterr()
    unsure, graded = (json.loads(line) for line in out.splitlines())
    assert (unsure["status"], unsure["report"]["status"], unsure["report"]["pass_fail"]) == (
        "unsure",
        "unsure",
        None,
    )
    assert unsure["error"].startswith("out of focus: sharpness 0.1")
    assert unsure["report"]["zones"]["sharpness"] < 0.2
    assert f"{blurred}: UNSURE, not graded: out of focus" in err
    assert "1 of 2 graded, 1 unsure (no PASS/FAIL), 0 failed" in err
    # No --profile and the config's `auto`: the multimode core decides, and the report says so.
    assert (graded["status"], graded["profile"], graded["report"]["profile_inferred"]) == (
        "ok",
        "mm-pc",
        True,
    )
    assert graded["report"]["pass_fail"] in ("PASS", "FAIL")


def test_registry_promotes_only_a_better_version(tmp_path, capsys):
    root = str(tmp_path / "registry")
    manifest = {"base_model": "tiny-qwen2-vl"}
    v1 = publish(root, "endface", metrics={"pass_fail_accuracy": 0.8}, manifest=manifest, version="v1")
    v2 = publish(root, "endface", metrics={"pass_fail_accuracy": 0.7}, manifest=manifest, version="v2")
    assert main(["registry", "promote", "--root", root, "--version", v1]) == 0
    capsys.readouterr()
    assert main(["registry", "promote", "--root", root, "--version", v2]) == 0
    [decision] = json.loads(capsys.readouterr().out)
    assert decision["promoted"] is False
    assert main(["registry", "show", "--root", root]) == 0
    [best] = json.loads(capsys.readouterr().out)
    assert best["version"] == "v1" and best["is_best"] is True
    assert main(["registry", "promote", "--root", root]) == 2
