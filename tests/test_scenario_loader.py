"""Scenario YAML loading (DESIGN.md section 7): validation messages, extends, --set."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from gpuladder.errors import EXIT_INPUT, EXIT_USAGE, InputError
from gpuladder.scenarios import loader
from gpuladder.scenarios.loader import ScenarioError, SetSyntaxError, load_scenario, scenario_from_mapping
from gpuladder.scenarios.schema import DEFAULT_REWORK_OVERHEAD, Constraints, Scenario, UsageSpec

FULL = """\
name: baseline
catalog: prices
usage: usage.csv
inventory: inv/inventory.csv
horizon: {start: "2026-01-01", months: 12}
forecast:
  method: seasonal
  lookback_days: 90
  growth_per_month: 0.02
  conservative_quantile: 0.05
products:
  providers: [aws, gcp]
  terms_months: [12, 36]
  payments: [no_upfront, partial_upfront]
  kinds: [reservation]
constraints:
  min_utilization: 0.9
  spot_cap: 0.5
  spot_rework_overhead: {"<5%": 0.03, ">20%": 0.25}
  max_upfront_usd_per_quarter: 100000
  max_expiring_share_per_quarter: 0.5
  max_bought_share_per_step: null
  ladder_step_months: 3
solver: {backend: cbc, time_limit_s: 30, mip_gap: 0.01}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str, sets=()) -> ScenarioError:
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(InputError) as info:
        load_scenario(path, sets)
    return info.value


# ---------------------------------------------------------------- valid files


def test_full_scenario_is_read_with_types_and_absolute_paths(tmp_path):
    s = load_scenario(write(tmp_path, "s.yaml", FULL))
    assert s.name == "baseline"
    assert s.catalog == str(tmp_path / "prices")
    assert s.usage == UsageSpec(path=str(tmp_path / "usage.csv"))
    assert s.inventory == str(tmp_path / "inv" / "inventory.csv")
    assert s.horizon.start == pd.Timestamp("2026-01-01T00:00Z") and s.horizon.months == 12
    assert (s.forecast.method, s.forecast.lookback_days) == ("seasonal", 90)
    assert s.forecast.growth_per_month == 0.02 and s.forecast.conservative_quantile == 0.05
    assert s.products.providers == ("aws", "gcp") and s.products.terms_months == (12, 36)
    assert s.products.payments == ("no_upfront", "partial_upfront") and s.products.kinds == ("reservation",)
    assert s.products.ids is None
    c = s.constraints
    assert (c.min_utilization, c.spot_cap, c.ladder_step_months) == (0.9, 0.5, 3)
    assert dict(c.spot_rework_overhead) == {"<5%": 0.03, "5-10%": 0.05, "10-15%": 0.08,
                                            "15-20%": 0.12, ">20%": 0.25}
    assert c.max_upfront_usd_per_quarter == 100000.0 and c.max_expiring_share_per_quarter == 0.5
    assert c.max_bought_share_per_step is None and c.max_committed_usd_per_hour is None
    assert (s.solver.backend, s.solver.time_limit_s, s.solver.mip_gap) == ("cbc", 30.0, 0.01)
    assert s.base_dir == tmp_path and s.source == str(tmp_path / "s.yaml")
    assert s.resolve(s.usage.path) == tmp_path / "usage.csv"
    assert pickle.loads(pickle.dumps(s)) == s
    hash(s)


def test_empty_sections_keep_defaults_and_name_defaults_to_file_stem(tmp_path):
    s = load_scenario(write(tmp_path, "steady.yaml", "forecast:\nconstraints: {}\n"))
    assert s.name == "steady"
    assert s.forecast == Scenario().forecast and s.constraints == Constraints()
    assert s.catalog == "embedded" and s.usage == UsageSpec() and s.inventory is None


def test_usage_mapping_and_interruptible_share_map(tmp_path):
    s = load_scenario(write(tmp_path, "s.yaml", """\
        usage:
          path: ../data/u.csv
          format: focus
          gaps: mask
          interruptible_share: {aws/us-east-1/p5.48xlarge: 0.4}
        """))
    assert s.usage.path == str(tmp_path.parent / "data" / "u.csv")
    assert (s.usage.format, s.usage.gaps) == ("focus", "mask")
    assert s.usage.interruptible_share_for("aws/us-east-1/p5.48xlarge") == 0.4
    assert s.usage.interruptible_share_for("gcp/us-central1/a3-highgpu-8g") is None


def test_spot_cap_per_family_and_rework_overhead_number(tmp_path):
    s = load_scenario(write(tmp_path, "s.yaml", """\
        constraints:
          spot_cap: {aws/us-east-1/p5.48xlarge: 0.3}
          spot_rework_overhead: 0
        """))
    c = s.constraints
    assert c.spot_cap_share("aws/us-east-1/p5.48xlarge") == 0.3
    assert c.spot_cap_share("aws/us-east-1/p4d.24xlarge") == 0.6  # not listed: the default cap
    assert dict(c.spot_cap) == {"aws/us-east-1/p5.48xlarge": 0.3, "*": 0.6}  # stored for every reader
    assert dict(c.spot_rework_overhead) == {b: 0.0 for b in DEFAULT_REWORK_OVERHEAD}


@pytest.mark.parametrize("others", ["default: 0.2", '"*": 0.2'])
def test_spot_cap_map_entry_for_families_not_listed(tmp_path, others):
    s = load_scenario(write(tmp_path, "s.yaml", "constraints: {spot_cap: {a/b/c: 0.3, " + others + "}}\n"))
    assert dict(s.constraints.spot_cap) == {"a/b/c": 0.3, "*": 0.2}
    assert s.constraints.spot_cap_share("x/y/z") == 0.2


def test_null_switches_constraints_off(tmp_path):
    s = load_scenario(write(tmp_path, "s.yaml", """\
        forecast: {conservative_quantile: null}
        constraints: {min_utilization: null, spot_cap: null}
        """))
    assert s.forecast.conservative_quantile is None
    assert s.constraints.min_utilization is None and s.constraints.spot_cap_share("a/b/c") is None


@pytest.mark.parametrize("text, expected", [
    ("start: 2026-03-01", "2026-03-01T00:00Z"),                    # YAML date: 00:00 UTC
    ('start: "2026-03-01"', "2026-03-01T00:00Z"),                  # string date
    ("start: 2026-03-01T05:00:00Z", "2026-03-01T05:00Z"),          # YAML timestamp with zone
    ('start: "2026-03-01T05:00:00+02:00"', "2026-03-01T03:00Z"),  # converted to UTC
])
def test_horizon_start_dates_become_utc(tmp_path, text, expected):
    s = load_scenario(write(tmp_path, "s.yaml", f"horizon: {{{text}}}\n"))
    assert s.horizon.start == pd.Timestamp(expected)
    assert str(s.horizon.start.tz) == "UTC"


def test_catalog_list_is_laid_over_in_order(tmp_path):
    s = load_scenario(write(tmp_path, "s.yaml", "catalog: [embedded, mine/prices]\n"))
    assert s.catalog == ("embedded", str(tmp_path / "mine" / "prices"))


def test_single_value_is_taken_as_a_one_item_list(tmp_path):
    s = load_scenario(write(tmp_path, "s.yaml", "products: {terms_months: 12, payments: all_upfront}\n"))
    assert s.products.terms_months == (12,) and s.products.payments == ("all_upfront",)


def test_bundled_default_path_is_used_without_a_path(tmp_path, monkeypatch):
    default = write(tmp_path, "examples/default.yaml", "name: bundled\n")
    monkeypatch.setattr(loader, "DEFAULT_SCENARIO_PATH", default)
    s = load_scenario(None, ["horizon.months=6"])
    assert (s.name, s.horizon.months, s.base_dir) == ("bundled", 6, tmp_path / "examples")


# ---------------------------------------------------------------- error messages


def test_unknown_key_names_the_key_path_line_and_suggests(tmp_path):
    err = error_of(tmp_path, "name: x\nconstraints:\n  min_utilization: 0.9\n  spot_capp: 0.5\n")
    assert isinstance(err, ScenarioError) and err.exit_code == EXIT_INPUT
    assert err.key == "constraints.spot_capp" and err.line == 4
    assert "unknown key 'spot_capp'" in str(err) and "Did you mean 'spot_cap'?" in str(err)
    assert str(err).startswith(f"{tmp_path / 's.yaml'}, line 4: constraints.spot_capp:")


def test_unknown_top_level_key(tmp_path):
    err = error_of(tmp_path, "horizn: {months: 3}\n")
    assert err.key == "horizn" and "Did you mean 'horizon'?" in str(err)


@pytest.mark.parametrize("text, key, words", [
    ('horizon: {months: "12"}', "horizon.months", ["expected a whole number, got the text '12'",
                                                   "without quotes"]),
    ("horizon: {months: 1.5}", "horizon.months", ["expected a whole number, got 1.5"]),
    ("constraints: {spot_cap: 60%}", "constraints.spot_cap", ["got the text '60%'", "60% is 0.6"]),
    ("constraints: {spot_cap: [0.5]}", "constraints.spot_cap", ["expected a share from 0 to 1, got a list"]),
    ("forecast: [seasonal]", "forecast", ["expected a mapping of method, lookback_days"]),
    ("name: [a, b]", "name", ["expected text, got a list"]),
    ("products: {payments: {no_upfront: 1}}", "products.payments", ["expected a list, got a mapping"]),
])
def test_wrong_types_name_the_key_and_the_expected_type(tmp_path, text, key, words):
    err = error_of(tmp_path, text + "\n")
    assert err.key == key
    for w in words:
        assert w in str(err)


@pytest.mark.parametrize("text, key, words", [
    ("constraints: {min_utilization: 1.5}", "constraints.min_utilization", ["1.5 is out of range: must be in [0, 1]"]),
    ("constraints: {spot_cap: {aws/us-east-1/p5.48xlarge: -0.1}}",
     "constraints.spot_cap.aws/us-east-1/p5.48xlarge", ["must be in [0, 1]"]),
    ("horizon: {months: 0}", "horizon.months", ["must be in [1, 120]"]),
    ("constraints: {ladder_step_months: 0}", "constraints.ladder_step_months", ["must be >= 1"]),
    ("forecast: {conservative_quantile: 0}", "forecast.conservative_quantile", ["must be in (0, 0.5]"]),
    ("forecast: {conservative_quantile: 0.9}", "forecast.conservative_quantile", ["must be in (0, 0.5]"]),
    ("forecast: {lookback_days: 3}", "forecast.lookback_days", ["must be >= 7"]),
    ("forecast: {growth_per_month: -1}", "forecast.growth_per_month", ["must be in (-1, 1]"]),
    ("forecast: {method: seasonl}", "forecast.method", ["'seasonl' is not one of replay, seasonal, trend",
                                                        "Did you mean 'seasonal'?"]),
    ("solver: {backend: gurobi}", "solver.backend", ["not one of highs, cbc, ortools"]),
    ("solver: {time_limit_s: 0}", "solver.time_limit_s", ["must be > 0"]),
    ("products: {payments: [no_upfront, partial_upfrnt]}", "products.payments[1]",
     ["Did you mean 'partial_upfront'?"]),
    ("products: {kinds: [reservations]}", "products.kinds[0]", ["Did you mean 'reservation'?"]),
    ("usage: {path: u.csv, gaps: fill}", "usage.gaps", ["not one of error, zero, mask"]),
    ('constraints: {spot_rework_overhead: {"<=5%": 0.1}}', "constraints.spot_rework_overhead.<=5%",
     ["unknown interruption bucket", "Did you mean '<5%'?"]),
    ("constraints: {spot_rework_overhead: -0.1}", "constraints.spot_rework_overhead", ["must be >= 0"]),
    ("constraints: {spot_cap: {p5.48xlarge: 0.3}}", "constraints.spot_cap.p5.48xlarge",
     ["is not a family key", "provider/region/instance_type"]),
    ("usage: {interruptible_share: {default: 0.3}}", "usage.interruptible_share.default",
     ["is not a family key"]),
    ('constraints: {spot_cap: {default: 0.3, "*": 0.2}}', "constraints.spot_cap",
     ["both `default` and"]),
    ("constraints: {min_utilization: .nan}", "constraints.min_utilization", ["not a finite number"]),
    ("constraints: {ladder_step_months: null}", "constraints.ladder_step_months",
     ["cannot be null", "keep the default (1)"]),
    ("horizon: {start: 2026-01-01 05:00:00}", "horizon.start", ["has no time zone"]),
    ('horizon: {start: "2026-01-01T05:00"}', "horizon.start", ["has no time zone"]),
    ('horizon: {start: "2026-01-01T05:30:00Z"}', "horizon.start", ["not on the hour"]),
    ('horizon: {start: "2026-02-30"}', "horizon.start", ["is not a date"]),
])
def test_ranges_and_choices(tmp_path, text, key, words):
    err = error_of(tmp_path, text + "\n")
    assert err.key == key
    for w in words:
        assert w in str(err), str(err)


@pytest.mark.parametrize("text, key, words", [
    ("products: {payments: [no]}", "products.payments[0]",
     ["YAML 1.1 reads the unquoted no as the boolean false", 'quoting it: "no"']),
    ("name: off", "name", ["reads the unquoted off as the boolean false", 'quoting it: "off"']),
    ("products: {providers: [aws, yes]}", "products.providers[1]", ["unquoted yes as the boolean true"]),
    ("name: 1.10", "name", ["reads the unquoted 1.10 as the number 1.1", 'quoting it: "1.10"']),
    ("products: {ids: [1:30]}", "products.ids[0]", ["reads the unquoted 1:30 as the number 90"]),
    ("constraints: {min_utilization: no}", "constraints.min_utilization",
     ["unquoted no as the boolean false", "null to switch the setting off"]),
    ("constraints: {on: 1}", "constraints.True", ["unquoted yes/no/on/off key as a boolean"]),
])
def test_yaml_1_1_traps_explain_quoting(tmp_path, text, key, words):
    err = error_of(tmp_path, text + "\n")
    assert err.key == key
    for w in words:
        assert w in str(err), str(err)


def test_extension_keys_hold_anchors(tmp_path):
    s = load_scenario(write(tmp_path, "s.yaml", """\
        x-strict: &strict {min_utilization: 0.99, ladder_step_months: 3}
        constraints:
          <<: *strict
          ladder_step_months: 6
        """))
    assert (s.constraints.min_utilization, s.constraints.ladder_step_months) == (0.99, 6)


def test_quoted_no_is_fine(tmp_path):
    s = load_scenario(write(tmp_path, "s.yaml", 'name: "no"\nproducts: {providers: ["on"]}\n'))
    assert s.name == "no" and s.products.providers == ("on",)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="scenario file not found") as info:
        load_scenario(tmp_path / "nope.yaml")
    assert info.value.file == str(tmp_path / "nope.yaml")


def test_yaml_syntax_error_gives_line_and_column(tmp_path):
    err = error_of(tmp_path, "name: x\nconstraints: {spot_cap: 0.5\nsolver: {}\n")
    assert "not valid YAML at line 3, column 7" in str(err)
    assert "while parsing a flow mapping that starts at line 2, column 14" in str(err)
    assert err.exit_code == EXIT_INPUT


def test_tab_indentation_is_a_yaml_error_with_a_hint(tmp_path):
    err = error_of(tmp_path, "constraints:\n\tspot_cap: 0.5\n")
    assert "not valid YAML at line 2" in str(err) and "spaces, not tabs" in str(err)


@pytest.mark.parametrize("text, words", [
    ("- a\n- b\n", "the top level must be a mapping of settings (name:, usage:, ...), got a list"),
    ("just text\n", "got the text 'just text'"),
    ("", "the scenario file is empty"),
    ("a: 1\n---\nb: 2\n", "not valid YAML"),
])
def test_top_level_not_a_mapping(tmp_path, text, words):
    err = error_of(tmp_path, text)
    assert words in str(err)


def test_duplicate_key_is_refused(tmp_path):
    err = error_of(tmp_path, "constraints:\n  spot_cap: 0.5\n  spot_cap: 0.3\n")
    assert err.key == "constraints.spot_cap" and err.line == 3
    assert "duplicate key (first at line 2)" in str(err)


# ---------------------------------------------------------------- extends


def test_extends_deep_merges_and_resolves_paths_where_defined(tmp_path):
    write(tmp_path, "shared/base.yaml", """\
        name: base
        catalog: prices
        usage: {path: data/usage.csv, gaps: mask}
        inventory: inv.csv
        products: {providers: [aws, gcp, azure], terms_months: [12, 36]}
        constraints: {min_utilization: 0.95, spot_cap: {aws/us-east-1/p5.48xlarge: 0.3}}
        """)
    child = write(tmp_path, "client/growth.yaml", """\
        extends: ../shared/base.yaml
        usage: other.csv
        products: {providers: [aws]}
        constraints: {spot_cap: {gcp/us-central1/a3-highgpu-8g: 0.2}, min_utilization: null}
        """)
    s = load_scenario(child)
    assert s.name == "growth"                                   # name is not inherited
    assert s.catalog == str(tmp_path / "shared" / "prices")     # defined in base: base's folder
    assert s.inventory == str(tmp_path / "shared" / "inv.csv")
    assert s.usage.path == str(tmp_path / "client" / "other.csv")  # defined in child: child's folder
    assert s.usage.gaps == "mask"                               # usage: FILE keeps the base's gaps
    assert s.products.providers == ("aws",)                     # lists replace
    assert s.products.terms_months == (12, 36)
    assert dict(s.constraints.spot_cap) == {"aws/us-east-1/p5.48xlarge": 0.3,  # mappings merge
                                            "gcp/us-central1/a3-highgpu-8g": 0.2, "*": 0.6}
    assert s.constraints.min_utilization is None                # null replaces
    assert s.base_dir == tmp_path / "client"


def test_extends_chain_of_three(tmp_path):
    write(tmp_path, "a.yaml", "horizon: {months: 24}\nforecast: {method: trend, lookback_days: 30}\n")
    write(tmp_path, "b/b.yaml", "extends: ../a.yaml\nforecast: {lookback_days: 60}\n")
    c = write(tmp_path, "c.yaml", "extends: b/b.yaml\nforecast: {growth_per_month: 0.1}\n")
    f = load_scenario(c)
    assert (f.horizon.months, f.forecast.method, f.forecast.lookback_days, f.forecast.growth_per_month) == \
        (24, "trend", 60, 0.1)


def test_an_empty_section_in_a_child_keeps_the_base_section(tmp_path):
    """`constraints:` with nothing under it (YAML null) changes nothing of the base's
    section; a setting set to null inside a section still switches it off."""
    write(tmp_path, "base.yaml", "constraints: {min_utilization: 0.8, spot_cap: 0.3}\nhorizon: {months: 24}\n")
    empty = write(tmp_path, "empty.yaml", "extends: base.yaml\nconstraints:\nhorizon:\n")
    s = load_scenario(empty)
    assert (s.constraints.min_utilization, s.constraints.spot_cap_share("any/f"), s.horizon.months) == (0.8, 0.3, 24)
    off = write(tmp_path, "off.yaml", "extends: base.yaml\nconstraints:\n  spot_cap: null\n")
    s = load_scenario(off)
    assert s.constraints.min_utilization == 0.8 and s.constraints.spot_cap_share("any/f") is None
    alone = load_scenario(write(tmp_path, "alone.yaml", "constraints:\n"))   # no base: the defaults
    assert alone.constraints.min_utilization == 0.95


def test_extends_cycle_is_refused(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ScenarioError, match=r"the extends chain is a cycle: a\.yaml -> b\.yaml -> a\.yaml") as info:
        load_scenario(tmp_path / "a.yaml")
    assert info.value.file == str(tmp_path / "b.yaml") and info.value.line == 1


def test_extends_self_is_a_cycle(tmp_path):
    with pytest.raises(ScenarioError, match="is a cycle: s.yaml -> s.yaml"):
        load_scenario(write(tmp_path, "s.yaml", "extends: s.yaml\n"))


def test_extends_missing_base(tmp_path):
    err = error_of(tmp_path, "name: x\nextends: nothere.yaml\n")
    assert err.key == "extends" and err.line == 2 and "base scenario 'nothere.yaml' not found" in str(err)


def test_error_in_base_names_the_base_file_and_line(tmp_path):
    write(tmp_path, "base.yaml", "solver:\n  backend: hihgs\n")
    err = error_of(tmp_path, "extends: base.yaml\n")
    assert err.file == str(tmp_path / "base.yaml") and err.line == 2 and err.key == "solver.backend"
    assert "Did you mean 'highs'?" in str(err)


# ---------------------------------------------------------------- --set


def test_set_values_are_yaml_typed(tmp_path):
    path = write(tmp_path, "s.yaml", FULL)
    s = load_scenario(path, [
        "constraints.min_utilization=null", "constraints.spot_rework_overhead=0", "horizon.months=24",
        "forecast.method=replay", "constraints.spot_cap={aws/us-east-1/p5.48xlarge: 0.3}",
        "products.payments=[all_upfront]", "solver.mip_gap=0.05", "name=what-if",
    ])
    assert s.constraints.min_utilization is None
    assert set(s.constraints.spot_rework_overhead.values()) == {0.0}
    assert s.horizon.months == 24 and s.forecast.method == "replay"
    assert dict(s.constraints.spot_cap) == {"aws/us-east-1/p5.48xlarge": 0.3, "*": 0.6}  # replaced
    assert s.products.payments == ("all_upfront",) and s.solver.mip_gap == 0.05 and s.name == "what-if"


def test_set_replaces_a_mapping_and_family_keys_may_hold_dots(tmp_path):
    path = write(tmp_path, "s.yaml", "constraints: {spot_cap: {aws/us-east-1/p5.48xlarge: 0.3}}\n")
    s = load_scenario(path, ["constraints.spot_cap.gcp/us-central1/a3-highgpu-8g=0.2"])
    assert dict(s.constraints.spot_cap) == {"aws/us-east-1/p5.48xlarge": 0.3,
                                            "gcp/us-central1/a3-highgpu-8g": 0.2, "*": 0.6}


def test_set_paths_are_relative_to_the_current_directory(tmp_path, monkeypatch):
    path = write(tmp_path, "scen/s.yaml", "usage: {path: u.csv, gaps: zero}\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    s = load_scenario(path, ["usage=mine.csv", "catalog=cat", "inventory=../inv.csv"])
    assert s.usage.path == str(work / "mine.csv") and s.usage.gaps == "zero"
    assert s.catalog == str(work / "cat") and s.inventory == str(tmp_path / "inv.csv")
    assert load_scenario(path, ["catalog=embedded"]).catalog == "embedded"


def test_set_inside_a_usage_file_shorthand(tmp_path):
    s = load_scenario(write(tmp_path, "s.yaml", "usage: u.csv\n"), ["usage.gaps=mask"])
    assert s.usage == UsageSpec(path=str(tmp_path / "u.csv"), gaps="mask")


def test_set_unknown_key_suggests(tmp_path):
    err = error_of(tmp_path, "name: x\n", ["constraints.spot_capp=0.5"])
    assert err.file == "--set constraints.spot_capp=0.5" and err.line is None
    assert err.key == "constraints.spot_capp" and "Did you mean 'spot_cap'?" in str(err)


def test_set_unknown_section_suggests(tmp_path):
    err = error_of(tmp_path, "name: x\n", ["constraint.min_utilization=0.9"])
    assert err.key == "constraint" and "Did you mean 'constraints'?" in str(err)


def test_set_wrong_type_names_the_set_item(tmp_path):
    err = error_of(tmp_path, "name: x\n", ["horizon.months=soon"])
    assert str(err).startswith("--set horizon.months=soon: horizon.months: expected a whole number")


def test_set_inside_a_scalar_is_refused(tmp_path):
    err = error_of(tmp_path, "constraints: {spot_cap: 0.5}\n", ["constraints.spot_cap.default=0.3"])
    assert err.key == "constraints.spot_cap" and "is the number 0.5, not a mapping" in str(err)


@pytest.mark.parametrize("item", ["horizon.months", "=3", "a..b=1", "constraints.spot_cap={a: 1"])
def test_malformed_set_is_a_usage_error(tmp_path, item):
    path = write(tmp_path, "s.yaml", "name: x\n")
    with pytest.raises(SetSyntaxError) as info:
        load_scenario(path, [item])
    assert info.value.exit_code == EXIT_USAGE


def test_set_is_checked_before_the_file_is_read(tmp_path):
    with pytest.raises(SetSyntaxError, match="is not key=value"):
        load_scenario(tmp_path / "missing.yaml", ["oops"])


def test_set_extends_is_refused(tmp_path):
    err = error_of(tmp_path, "name: x\n", ["extends=base.yaml"])
    assert "extends is only read from scenario files" in str(err)


# ---------------------------------------------------------------- scenario_from_mapping


def test_scenario_from_mapping_resolves_against_base_dir_and_does_not_mutate(tmp_path):
    write(tmp_path, "base.yaml", "forecast: {method: trend}\n")
    data = {"extends": "base.yaml", "usage": "u.csv", "constraints": {"spot_cap": {"default": 0.2}}}
    before = repr(data)
    s = scenario_from_mapping(data, base_dir=tmp_path, source="<api>")
    assert repr(data) == before
    assert s.usage.path == str(tmp_path / "u.csv") and s.forecast.method == "trend"
    assert s.constraints.spot_cap_share("x/y/z") == 0.2 and s.name == "scenario"
    with pytest.raises(ScenarioError, match="<api>: horizon.months: expected a whole number"):
        scenario_from_mapping({"horizon": {"months": "x"}}, base_dir=tmp_path, source="<api>")


def test_bundled_examples_are_valid():
    examples = sorted(loader.DEFAULT_SCENARIO_PATH.parent.glob("*.yaml"))
    assert loader.DEFAULT_SCENARIO_PATH in examples
    for path in examples:
        s = load_scenario(path)
        assert s.usage.path is not None and Path(s.usage.path).is_file(), path
    assert load_scenario(None).source == str(loader.DEFAULT_SCENARIO_PATH)


def test_paths_in_messages_are_normalized(tmp_path):
    """A file reached through '..' is named without it, in its own errors and in a base's."""
    write(tmp_path, "sc/typo.yaml", "horizon: {monthz: 3}\n")
    (tmp_path / "x").mkdir()
    with pytest.raises(InputError) as info:
        load_scenario(tmp_path / "x" / ".." / "sc" / "typo.yaml")
    assert str(tmp_path / "sc" / "typo.yaml") + ", line 1" in str(info.value) and ".." not in str(info.value)
    child = write(tmp_path, "x/e.yaml", "extends: ../sc/../sc/missing.yaml\n")
    with pytest.raises(InputError, match=r"looked for " + str(tmp_path / "sc" / "missing.yaml").replace(".", r"\.")):
        load_scenario(child)
