"""Family keys in the scenario's per-family maps (constraints.spot_cap,
usage.interruptible_share): one the catalog lacks is a typo, an input error (exit 1) with
a did-you-mean; one the catalog has but the run does not involve stays a note (exit 0)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.scenarios.loader import DEFAULT_SCENARIO_PATH

DEFAULT = DEFAULT_SCENARIO_PATH
EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "scenarios" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("key", ["constraints.spot_cap", "usage.interruptible_share"])
def test_family_not_in_catalog_is_an_error(key):
    res = CliRunner().invoke(main, ["validate", "--set", f"{key}={{aws/us-east-1/p5.48xlarg: 0.3}}"])
    assert res.exit_code == 1, res.output
    assert (f"{key}: the family 'aws/us-east-1/p5.48xlarg' is not in the catalog. "
            "Did you mean 'aws/us-east-1/p5.48xlarge'?") in res.output


def test_catalog_family_without_usage_stays_a_note():
    res = CliRunner().invoke(main, ["validate", "--set", "constraints.spot_cap={aws/ap-northeast-1/g5.12xlarge: 0.3}"])
    assert res.exit_code == 0, res.output
    assert ("note: constraints.spot_cap names aws/ap-northeast-1/g5.12xlarge, which is not among the families "
            "of the usage or the inventory; it has no effect.") in res.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_bundled_examples_still_validate(path):
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("key", ["constraints.spot_cap", "usage.interruptible_share"])
def test_the_error_names_the_set_item_or_the_line(key, tmp_path):
    """Checked against the catalog after loading, the error named the scenario file even
    for a --set value; it names where the family key was written."""
    res = CliRunner().invoke(main, ["validate", "--set", f"{key}={{aws/us-east-1/p5.48xlarg: 0.3}}"])
    assert f"error: --set {key}={{aws/us-east-1/p5.48xlarg: 0.3}}: {key}: the family" in res.output
    section, name = key.split(".")
    path = tmp_path / "typo.yaml"
    path.write_text(f"extends: {DEFAULT}\nname: typo\n{section}:\n  {name}:\n    aws/us-east-1/p5.48xlarg: 0.3\n")
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 1, res.output
    assert f"error: {path}, line 5: {key}: the family 'aws/us-east-1/p5.48xlarg'" in res.output


def test_an_unknown_product_id_names_its_list_item(tmp_path):
    path = tmp_path / "ids.yaml"
    path.write_text(f"extends: {DEFAULT}\nname: ids\nproducts:\n  ids:\n    - aws-foo\n")
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 1, res.output
    assert f"error: {path}, line 5: products.ids: 'aws-foo' is not in the catalog." in res.output
