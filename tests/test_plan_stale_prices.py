"""A plan warns when a family it prices carries prices dated more than a year before the
horizon's start (the embedded AWS prices outside us-east-1 are from 2024-04-04, before the
mid-2025 GPU price cuts), naming the families and their dates."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from gpuladder.cli import main
from gpuladder.pricing.catalog import embedded_catalog

OLD_PRICE, NEW_PRICE = "aws/eu-north-1/p5.48xlarge", "aws/us-east-1/p5.48xlarge"   # 2024-04-04, 2026-07-20


def _plan_warnings(tmp_path, families: list[str], start: str, interruptible: float = 0.0,
                   prefix: str = "prices dated") -> list[str]:
    idx = pd.date_range(pd.Timestamp(start, tz="UTC") - pd.Timedelta(days=28), periods=28 * 24, freq="h")
    rows = pd.DataFrame([(t, f, 4.0 + (i % 3)) for f in families for i, t in enumerate(idx)],
                        columns=["timestamp", "family", "instances"])
    rows["interruptible_instances"] = interruptible
    rows["timestamp"] = rows["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    rows.to_csv(tmp_path / "usage.csv", index=False)
    (tmp_path / "s.yaml").write_text(f"name: stale\ncatalog: embedded\nusage: usage.csv\n"
                                     f"horizon: {{start: '{start}', months: 2}}\nforecast: {{method: replay}}\n"
                                     "products: {providers: [aws], terms_months: [12]}\n")
    out = CliRunner().invoke(main, ["plan", str(tmp_path / "s.yaml"), "--format", "json"])
    assert out.exit_code == 0, out.output
    return [w for w in json.loads(out.stdout)["warnings"] if w.startswith(prefix)]


def test_a_price_older_than_a_year_is_named_with_its_date(tmp_path):
    (w,) = _plan_warnings(tmp_path, [OLD_PRICE, NEW_PRICE], "2026-12-01")
    assert f"{OLD_PRICE} (2024-04-04)" in w and NEW_PRICE not in w and "(2026-12-01)" in w
    assert "gpuladder catalog fetch aws" in w


@pytest.mark.parametrize("start, warned", [("2025-04-01", False), ("2025-04-05", True)])
def test_the_limit_is_a_year_before_the_horizon_start(tmp_path, start, warned):
    assert bool(_plan_warnings(tmp_path, [OLD_PRICE], start)) == warned


def test_more_than_five_families_are_counted(tmp_path):
    fam = embedded_catalog().families
    names = [f"aws/{r}/g5.xlarge" for r in ("ap-northeast-1", "ap-south-1", "ca-central-1", "eu-central-1",
                                             "eu-north-1", "eu-west-1", "eu-west-2")]
    assert (fam["as_of"].reindex(names).astype(str).str[:10] == "2024-04-04").all()
    (w,) = _plan_warnings(tmp_path, names, "2026-12-01")
    assert w.count("(2024-04-04)") == 5 and " and 2 more;" in w


CARRIED_SPOT = "aws/us-east-1/g5.48xlarge"   # on-demand 2026-07-20, spot carried over from 2024-04-04


@pytest.mark.parametrize("interruptible, named", [(2.0, True), (0.0, False)])
def test_a_spot_price_carried_over_from_an_old_source_is_named_when_spot_can_be_used(tmp_path, interruptible, named):
    """The embedded catalog's 26 us-east-1 families with 2024 spot under 2026 on-demand: the
    family's as_of is new, so only the spot price's own date (in ``source``) shows it.
    Without interruptible demand the plan uses no spot, and nothing is said."""
    fam = embedded_catalog().families.loc[[CARRIED_SPOT, NEW_PRICE]]
    assert (fam["as_of"].astype(str).str[:10] == "2026-07-20").all()
    assert fam["source"][CARRIED_SPOT].endswith("as of 2024-04-04")
    found = _plan_warnings(tmp_path, [CARRIED_SPOT, NEW_PRICE], "2026-12-01", interruptible, prefix="spot prices dated")
    assert bool(found) == named
    if named:
        (w,) = found
        assert f"{CARRIED_SPOT} (2024-04-04)" in w and NEW_PRICE not in w and "(2026-12-01)" in w
    assert not _plan_warnings(tmp_path, [CARRIED_SPOT], "2025-04-01", interruptible, prefix="spot prices dated")


def test_a_family_whose_prices_are_all_old_is_named_once(tmp_path):
    """eu-north-1's g5 is 2024-04-04 whole: the price warning names it, the spot one not again."""
    old = "aws/eu-north-1/g5.xlarge"
    assert _plan_warnings(tmp_path, [old], "2026-12-01", 2.0, prefix="spot prices dated") == []
    assert _plan_warnings(tmp_path, [old], "2026-12-01", 2.0)
