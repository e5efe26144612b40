import pytest
from pydantic import Field

from fibervlm.config import Config, ConfigError, load_config


class Inner(Config):
    batch_size: int = Field(default=4, ge=1, description="images per batch")


class Outer(Config):
    name: str = Field(default="x", description="a name")
    inner: Inner = Field(default_factory=Inner, description="a section")


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: a\ninner:\n  batch_size: 2\n")
    cfg = load_config(Outer, path, ["inner.batch_size=8"])
    assert cfg.name == "a" and cfg.inner.batch_size == 8


def test_unknown_key_names_itself_and_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  batch_sise: 2\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'inner\.batch_sise'"):
        load_config(Outer, path)


def test_bad_value_and_bad_override():
    with pytest.raises(ConfigError, match=r"'inner\.batch_size'"):
        load_config(Outer, None, ["inner.batch_size=0"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(Outer, None, ["inner.batch_size"])


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(Outer, bad)
