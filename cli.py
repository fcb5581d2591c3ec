"""gpuladder command line: a thin layer over the library (STYLE.md).

Each command parses its options, calls one library function and renders the result
with ``report/``. Data goes to stdout (or ``-o FILE``, written atomically), progress
and errors to stderr. Exit codes: 0 ok, 1 input/domain error, 2 usage error,
3 infeasible scenario. The shared plumbing (error handling, atomic output, the -o /
--format options) is in ``cli_io.py``.
"""

from __future__ import annotations

import functools
import math
import sys

import click

from gpuladder import __version__
from gpuladder.cli_io import emit, handle_errors, output_options, writable_file, writable_folder
from gpuladder.errors import did_you_mean


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gpuladder")
def main():
    """Plan GPU cloud capacity purchases: committed floor, spot share, on-demand remainder.

    \b
    Example:
      gpuladder plan                      # bundled example scenario, embedded catalog
      gpuladder plan my.yaml --format json -o plan.json
    """


# ---------------------------------------------------------------- catalog (pricing/)

_CATALOG_OPTION_HELP = ("Catalog folder, or 'embedded' (default). Repeat to merge: later folders "
                        "replace rows of earlier ones, e.g. --catalog embedded --catalog fetched/.")


@main.group()
def catalog():
    """Show, export or refresh the GPU price catalog.

    \b
    Example:
      gpuladder catalog show --provider aws --family 'p5*'
      gpuladder catalog export my-prices/ && gpuladder plan --catalog my-prices/
    """


@catalog.command("show")
@click.option("--catalog", "catalog_specs", multiple=True, metavar="DIR", help=_CATALOG_OPTION_HELP)
@click.option("--provider", "providers", multiple=True, metavar="P", help="Only this provider (aws, gcp, azure); repeatable.")
@click.option("--family", "family_glob", metavar="GLOB", help="Family key or instance type pattern, e.g. 'p5*' or '*/us-east-1/*'.")
@click.option("--gpu", metavar="MODEL", help="GPU model, e.g. H100 (also matches H100-80GB).")
@output_options(("table", "csv", "json"))
@handle_errors
def catalog_show(catalog_specs, providers, family_glob, gpu, fmt, output):
    """List families: on-demand, spot, interruption bucket, GPUs, and the cheapest
    commitment rate per term (estimates marked *).

    \b
    Example:
      gpuladder catalog show --provider gcp --gpu H100
      gpuladder catalog show --family '*/us-east-1/*' --format csv -o prices.csv
    Python: gpuladder.pricing.view.catalog_view(open_catalog(...), CatalogQuery(...))
    """
    from gpuladder.pricing.catalog import open_catalog
    from gpuladder.pricing.view import CatalogQuery, catalog_view
    from gpuladder.report.catalog import render_catalog_view

    cat = open_catalog(catalog_specs or None)
    known = sorted(cat.families["provider"].unique())
    for p in providers:
        if p.lower() not in known:
            raise click.BadParameter(f"'{p}' is not a provider of the catalog; choose from {', '.join(known)}."
                                     f"{did_you_mean(p.lower(), known)}", param_hint="'--provider'")
    view = catalog_view(cat, CatalogQuery(tuple(providers), family_glob, gpu))
    if gpu and view.families.empty and catalog_view(cat, CatalogQuery(gpu=gpu)).families.empty:
        models = sorted(cat.families["gpu_model"].unique())
        click.echo(f"note: no family has the GPU '{gpu}'.{did_you_mean(gpu.upper(), models)} "
                   f"The catalog's GPUs: {', '.join(models)}.", err=True)
    emit(render_catalog_view(view, fmt), output)


@catalog.command("export")
@click.argument("folder", type=click.Path(file_okay=False), callback=writable_folder)
@click.option("--catalog", "catalog_specs", multiple=True, metavar="DIR", help=_CATALOG_OPTION_HELP)
@handle_errors
def catalog_export(folder, catalog_specs):
    """Write the catalog as canonical files (families.csv, commitments.csv) into FOLDER,
    to edit prices and pass --catalog FOLDER.

    \b
    Example:
      gpuladder catalog export my-prices/
    Python: gpuladder.pricing.catalog.export_catalog(open_catalog(...), folder)
    """
    from gpuladder.pricing.catalog import export_catalog, open_catalog

    for path in export_catalog(open_catalog(catalog_specs or None), folder):
        click.echo(f"wrote {path}", err=True)


@catalog.command("fetch")
@click.argument("provider", type=click.Choice(["aws"]))
@click.option("--region", "regions", multiple=True, metavar="R",
              help="AWS region (repeatable); default: the configured region.")
@click.option("--spot-days", type=click.IntRange(1, 90), default=7, show_default=True,
              help="Spot price = mean over this many past days.")
@click.option("-o", "--output", "folder", required=True, type=click.Path(file_okay=False), callback=writable_folder,
              help="Folder to write families.csv and commitments.csv into.")
@handle_errors
def catalog_fetch(provider, regions, spot_days, folder):
    """Fetch live AWS prices (on-demand, reserved instances, savings plans, spot) with boto3
    into a catalog folder. Needs AWS credentials allowed pricing:GetProducts,
    savingsplans:DescribeSavingsPlansOfferingRates and ec2:DescribeSpotPriceHistory.

    \b
    Example:
      gpuladder catalog fetch aws --region us-east-1 --region us-west-2 -o aws-prices/
      gpuladder plan --catalog embedded --catalog aws-prices/
    Python: gpuladder.pricing.aws.fetch_aws_catalog(AwsFetchOptions(regions=(...)))
    """
    from gpuladder.pricing.aws import AwsFetchOptions, fetch_aws_catalog
    from gpuladder.pricing.catalog import export_catalog

    result = fetch_aws_catalog(AwsFetchOptions(regions=tuple(regions), spot_window_days=spot_days))
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for path in export_catalog(result.catalog, folder):
        click.echo(f"wrote {path}", err=True)


# ---------------------------------------------------------------- usage (usage/)

_USAGE_FORMATS = ["canonical", "focus", "cur", "cur2"]


@main.group()
def usage():
    """Read usage history: canonical CSV, FOCUS 1.0-1.3, AWS CUR (legacy, 2.0); CSV, gzip, Parquet.

    \b
    Example:
      gpuladder usage summarize focus-export.csv.gz
      gpuladder usage convert cur.parquet -o usage.csv --gaps zero
    """


@usage.command("summarize")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--usage-format", type=click.Choice(_USAGE_FORMATS), default=None,
              help="Force the format (default: detected from the header).")
@click.option("--catalog", "catalog_specs", multiple=True, metavar="DIR",
              help="Catalog folder or 'embedded' (default), to flag families it lacks.")
@output_options(("table", "json"))
@handle_errors
def usage_summarize(file, usage_format, catalog_specs, fmt, output):
    """Show what was understood of FILE: span, hours, every instance family (GPU or not,
    in the catalog or not) with instance-hours, spot and covered instance-hours, and the
    rows skipped and why.

    \b
    Example:
      gpuladder usage summarize cur-2026-01.csv.gz --format json
    Python: gpuladder.usage.load.summarize_usage(path, families=catalog.family_keys)
    """
    from gpuladder.pricing.catalog import open_catalog
    from gpuladder.report.usage import render_usage_summary
    from gpuladder.usage.load import summarize_usage

    cat = open_catalog(catalog_specs or None)
    summary = summarize_usage(file, families=cat.family_keys, format=usage_format)
    emit(render_usage_summary(summary, fmt), output)


@usage.command("convert")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), callback=writable_file,
              help="Canonical usage CSV to write (atomically).")
@click.option("--usage-format", type=click.Choice(_USAGE_FORMATS), default=None,
              help="Force the format (default: detected from the header).")
@click.option("--gaps", type=click.Choice(["error", "zero", "mask"]), default="error", show_default=True,
              help="Hours without any row: refuse, read as zero demand, or leave out.")
@click.option("--catalog", "catalog_specs", multiple=True, metavar="DIR",
              help="Keep only this catalog's families (folder or 'embedded'); default: every GPU family.")
@handle_errors
def usage_convert(file, output, usage_format, gaps, catalog_specs):
    """Write the GPU usage of FILE as the canonical usage CSV
    (timestamp,family,instances,interruptible_instances,covered_instances).

    \b
    Example:
      gpuladder usage convert focus.parquet -o usage.csv --gaps zero
    Python: gpuladder.usage.load.convert_usage(path, "usage.csv", gaps="zero")
    """
    import warnings

    from gpuladder.pricing.catalog import open_catalog
    from gpuladder.report.text import plural
    from gpuladder.usage.load import convert_usage, rows_by_family

    families = open_catalog(catalog_specs).family_keys if catalog_specs else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        profile = convert_usage(file, output, families=families, format=usage_format, gaps=gaps)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    if families is None:
        rows = rows_by_family(profile)
        unknown = rows[~rows.index.isin(open_catalog(None).family_keys)]
        lacks = ("all of them are in the embedded catalog" if unknown.empty else
                 f"{plural(len(unknown), 'family', 'families')} ({plural(int(unknown.sum()), 'row')}) not in the "
                 f"embedded catalog, which plan and validate would refuse: {', '.join(unknown.index)}")
        click.echo(f"note: no --catalog, so {plural(len(rows), 'family', 'families')} ({plural(int(rows.sum()), 'row')}) "
                   f"were written without a catalog check; {lacks}. --catalog embedded (or a catalog folder) "
                   "leaves out the families the catalog lacks.", err=True)
    click.echo(f"wrote {output}: {plural(len(profile.families), 'family', 'families')}, "
               f"{plural(len(profile.index), 'hour')}", err=True)



# ---------------------------------------------------------------- inventory (usage/)

@main.group()
def inventory():
    """Existing commitments: from a billing export or from the AWS account, as the
    canonical inventory CSV (id,product,family,quantity,start,end); a plan's purchases
    recorded in it once bought.

    \b
    Example:
      gpuladder inventory fetch aws --region us-east-1 -o inventory.csv
      gpuladder inventory from-export cur-2026-01.parquet -o inventory.csv
      gpuladder inventory record plan.json --inventory inventory.csv -o inventory.csv
    """


_INVENTORY_COMMON = [
    click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), callback=writable_file,
                 help="Inventory CSV to write (atomically); default stdout."),
    click.option("--catalog", "catalog_specs", multiple=True, metavar="DIR",
                 help="Catalog folder or 'embedded' (default) whose products the commitments map to."),
    click.option("--skip-unmatched", is_flag=True,
                 help="Write the commitments that match a product and list the others, instead of failing."),
]


def _inventory_options(fn):
    for opt in reversed(_INVENTORY_COMMON):
        fn = opt(fn)
    return fn


def _emit_inventory(match, notes, output):
    for note in notes:
        click.echo(f"note: {note}", err=True)
    for cid, why in match.unmatched:
        click.echo(f"not written: {cid}: {why}", err=True)
    from gpuladder.usage.inventory_export import inventory_text

    emit(inventory_text(match), output)


@inventory.command("from-export")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--usage-format", type=click.Choice(["focus", "cur", "cur2"]), default=None,
              help="Force the format (default: detected from the header).")
@_inventory_options
@handle_errors
def inventory_from_export(file, usage_format, output, catalog_specs, skip_unmatched):
    """Infer reservations and savings plans from a FOCUS export or an AWS CUR (ids,
    start/end, quantity or hourly commitment, term, payment) and map them to products.

    \b
    Example:
      gpuladder inventory from-export cur.csv.gz -o inventory.csv --skip-unmatched
    Python: build_inventory(commitments_from_export(path), catalog, source=path)
    """
    import warnings

    from gpuladder.pricing.catalog import open_catalog
    from gpuladder.usage.inventory_export import build_inventory, commitments_from_export

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = commitments_from_export(file, usage_format)
    match = build_inventory(found, open_catalog(catalog_specs or None), source=file, allow_unmatched=skip_unmatched)
    _emit_inventory(match, tuple(str(w.message) for w in caught), output)


@inventory.command("fetch")
@click.argument("provider", type=click.Choice(["aws"]))
@click.option("--region", "regions", multiple=True, metavar="R",
              help="Region for reserved instances (repeatable); default: the configured region.")
@_inventory_options
@handle_errors
def inventory_fetch(provider, regions, output, catalog_specs, skip_unmatched):
    """List the account's active reserved instances and savings plans (boto3) as inventory.

    \b
    Example:
      gpuladder inventory fetch aws --region us-east-1 --region us-west-2 -o inventory.csv
    Python: build_inventory(fetch_aws_commitments(("us-east-1",)).commitments, catalog, source="aws")
    """
    from gpuladder.pricing.catalog import open_catalog
    from gpuladder.usage.inventory_aws import fetch_aws_commitments
    from gpuladder.usage.inventory_export import build_inventory

    fetched = fetch_aws_commitments(tuple(regions))
    match = build_inventory(fetched.commitments, open_catalog(catalog_specs or None), source="aws account",
                            allow_unmatched=skip_unmatched)
    _emit_inventory(match, fetched.notes, output)


def _through_date(ctx, param, value):
    """--through: a malformed date is a usage error (exit 2), as backtest --start's is."""
    from gpuladder.usage.inventory_record import parse_through, through_hint

    if value is not None:
        try:
            parse_through(value)
        except ValueError as exc:
            raise click.BadParameter(f"{exc}; give {through_hint(value)}") from None
    return value


@inventory.command("record")
@click.argument("plan_file", metavar="PLAN.json", type=click.Path(dir_okay=False))
@click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False), default=None,
              help="Inventory CSV to add to (kept as it is, rows appended); default: start a new one.")
@click.option("--through", metavar="DATE", callback=_through_date,
              help="Record the purchases dated up to DATE (included); default: those dated before the plan's "
                   "next ladder step (horizon.next_step), the step a monthly script buys.")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False), callback=writable_file,
              help="Inventory CSV to write (atomically; may be the --inventory file); default stdout.")
@handle_errors
def inventory_record(plan_file, inventory_path, through, output):
    """Record the purchases of a plan (gpuladder plan --format json) that you bought as
    inventory rows, so the next plan holds them. Each row keeps the purchase's id; a
    purchase recorded already (the same plan twice) is refused.

    \b
    Example (monthly re-ladder):
      gpuladder plan my.yaml --inventory inv.csv --format json -o plan.json
      gpuladder inventory record plan.json --inventory inv.csv -o inv.csv
    Python: gpuladder.usage.inventory_record.record_purchases(plan_path, inventory_path)
    """
    from gpuladder.report.text import plural
    from gpuladder.usage.inventory_record import record_purchases, through_text

    rec = record_purchases(plan_file, inventory_path, through)
    emit(rec.text, output)
    if rec.through is None:
        click.echo("recorded nothing: the plan buys nothing", err=True)
        return
    day = (f"before {rec.before_step:%Y-%m-%d}, the plan's next ladder step" if rec.before_step is not None
           else f"up to {rec.through:%Y-%m-%d}" if through is None else f"up to {through_text(through)}")
    click.echo(f"recorded {plural(len(rec.added_ids), 'purchase')} dated {day}"
               + (": " + ", ".join(rec.added_ids) if rec.added_ids else ""), err=True)
    if rec.later_purchases:
        click.echo(f"not recorded: {plural(rec.later_purchases, 'later purchase')} (from "
                   f"{rec.next_date:%Y-%m-%d}); the next plan decides them again", err=True)
    for note in rec.notes:
        click.echo(f"note: {note}", err=True)


# ---------------------------------------------------------------- plan / validate

def _positive_seconds(ctx, param, value):
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value} is not a positive number of seconds; write e.g. --time-limit 120")
    return value


def scenario_options(fn=None, *, solver: bool = True):
    """The options every scenario-running command shares: file overrides, --set, and (with
    ``solver``) the solver's backend and time limit."""
    if fn is None:
        return lambda f: scenario_options(f, solver=solver)
    opts = [
        click.option("--usage", "usage_path", type=click.Path(dir_okay=False), default=None,
                     help="Usage history (canonical CSV, FOCUS or AWS CUR; detected) instead of the scenario's."),
        click.option("--usage-format", type=click.Choice(["canonical", "focus", "cur", "cur2"]), default=None,
                     help="Force the usage format instead of detecting it."),
        click.option("--gaps", type=click.Choice(["error", "zero", "mask"]), default=None,
                     help="Hours with no usage rows: refuse (error), read as zero, or mask them."),
        click.option("--catalog", "catalog_specs", multiple=True, metavar="DIR",
                     help="Catalog folder, or 'embedded'; repeat to lay one over another (later wins)."),
        click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False), default=None,
                     help="Existing commitments CSV (id,product,family,quantity,start,end)."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Override a scenario setting with a YAML value, e.g. --set constraints.spot_cap=0.5."),
    ]
    if solver:
        opts += [click.option("--backend", type=click.Choice(["highs", "cbc", "ortools"]), default=None,
                              help="Solver backend (default: the scenario's, highs)."),
                 click.option("--time-limit", "time_limit", type=float, default=None, callback=_positive_seconds,
                              help="Solver time limit in seconds.")]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def build_scenario(path, *, usage_path=None, usage_format=None, gaps=None, catalog_specs=(), inventory_path=None,
                   sets=(), backend=None, time_limit=None):
    """Load a scenario (None: the bundled default) and apply the command-line overrides."""
    from gpuladder.scenarios.loader import load_scenario
    from gpuladder.scenarios.schema import apply_overrides

    scenario = load_scenario(path, sets)
    return apply_overrides(scenario, usage_path=usage_path, usage_format=usage_format, gaps=gaps,
                           catalog=tuple(catalog_specs), inventory=inventory_path, backend=backend,
                           time_limit_s=time_limit)


@main.command("plan")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@scenario_options
@output_options(("table", "json", "csv", "md", "html"))
@handle_errors
def plan_cmd(scenario, fmt, output, **overrides):
    """Plan purchases for SCENARIO (default: the bundled example on embedded data).

    \b
    Examples:
      gpuladder plan
      gpuladder plan scenarios/examples/steady-inference.yaml --format json -o plan.json
      gpuladder plan my.yaml --usage cur.csv.gz --set constraints.spot_cap=0.5 --set horizon.months=24
    \b
    Python: gpuladder.scenarios.runner.run_scenario(gpuladder.scenarios.loader.load_scenario(path))
    """
    from gpuladder.report.plan import render_plan
    from gpuladder.scenarios.runner import run_scenario

    sc = build_scenario(scenario, **overrides)
    click.echo(f"planning '{sc.name}' ...", err=True)
    plan = run_scenario(sc)
    emit(render_plan(plan, fmt), output)
    if fmt == "csv":   # the CSV is the ladder alone; its warnings go to stderr
        for w in plan.warnings:
            click.echo(f"warning: {w}", err=True)


@main.command("validate")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@scenario_options(solver=False)
@handle_errors
def validate_cmd(scenario, **overrides):
    """Check a scenario and its input files without planning (exit 0 when all is well).

    \b
    Example:
      gpuladder validate scenarios/examples/default.yaml
    \b
    Python: gpuladder.scenarios.runner.load_inputs(scenario)
    """
    from gpuladder.report.text import plural
    from gpuladder.report.usage import hours_span_text
    from gpuladder.scenarios.runner import forecast_for, forecast_notes, gap_notes, load_inputs

    sc = build_scenario(scenario, **overrides)
    inputs = load_inputs(sc)
    fc = forecast_for(inputs)
    p = inputs.profile
    emit(f"scenario '{sc.name}' ({sc.source}): ok\n"
         f"usage: {hours_span_text(p.index[0], p.index[-1])}, {plural(len(p.index), 'hour')}, "
         f"{plural(len(p.families), 'family', 'families')}\n"
         f"inventory: {plural(len(inputs.inventory), 'commitment')}\n"
         f"forecast: {fc.method}, {plural(len(fc.paths), 'path')}, horizon {fc.index[0]:%Y-%m-%dT%H:%MZ} "
         f"+ {plural(len(fc.index), 'hour')}", None)
    for note in inputs.warnings + gap_notes(p, sc.usage.gaps) + forecast_notes(inputs, fc):
        click.echo(f"note: {note}", err=True)


# ---------------------------------------------------------------- compare / backtest

@main.command("compare")
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
@scenario_options
@output_options(("table", "json", "csv", "md", "html"))
@handle_errors
def compare_cmd(scenarios, fmt, output, **overrides):
    """Plan several scenarios and show them side by side: cost, savings, effective savings
    rate, utilization, coverage, spot share, upfront cash, committed $ and lock-in. The
    options (--set, --usage, ...) apply to every scenario. A scenario that fails is shown
    as failed with its reason; the others still run. Exit code: 0 when all ran, else the
    highest exit code among the failures (3 infeasible, 2 usage error, 1 bad input).

    \b
    Example:
      gpuladder compare scenarios/examples/steady-inference.yaml scenarios/examples/multicloud.yaml
      gpuladder compare a.yaml b.yaml --set horizon.months=24 --format json -o compare.json
      gpuladder compare a.yaml b.yaml --format html -o compare.html   # with each plan's ladder chart
    \b
    Python: gpuladder.scenarios.compare.compare_scenarios(paths, load=gpuladder.scenarios.loader.load_scenario)
    """
    from gpuladder.report.compare import render_comparison
    from gpuladder.scenarios.compare import compare_scenarios

    result = compare_scenarios(scenarios, functools.partial(build_scenario, **overrides),
                               progress=lambda msg: click.echo(msg, err=True))
    emit(render_comparison(result, fmt), output)
    for o in result.outcomes:
        if not o.ok:
            click.echo(f"error: {o.source}: {o.error}", err=True)
    if result.exit_code:
        sys.exit(result.exit_code)


def _replan_every(ctx, param, value):
    import pandas as pd

    from gpuladder.scenarios.loader import MAX_HORIZON_MONTHS
    from gpuladder.solver.backtest import parse_replan_every
    from gpuladder.units import EARLIEST_UTC, add_months

    too_long = (f"'{value}' is longer than {MAX_HORIZON_MONTHS} months; use e.g. 1M (one calendar month), "
                "2W, 7D or 36h")
    try:
        step = parse_replan_every(value)
    except (OverflowError, pd.errors.OutOfBoundsTimedelta):
        raise click.BadParameter(too_long) from None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        longer = EARLIEST_UTC + step > add_months(EARLIEST_UTC, MAX_HORIZON_MONTHS)
    except (OverflowError, ValueError):
        longer = True
    if longer:
        raise click.BadParameter(too_long)
    return value


def _backtest_start(ctx, param, value):
    """--start: an ISO 8601 date (00:00 UTC) or time with its zone (converted to UTC),
    inside the supported dates."""
    from gpuladder.isotime import is_iso_date, iso_hint, parse_iso
    from gpuladder.units import DATE_RANGE_TEXT, out_of_range

    if value is None:
        return None
    text = value.strip()
    example = "write e.g. 2026-10-30 (00:00 UTC) or 2026-10-30T06:00Z"
    try:
        ts = parse_iso(text)
    except ValueError as exc:
        raise click.BadParameter(f"'{value}' is not a date or time: {exc}; write {iso_hint(text)}") from None
    if ts.tzinfo is None and not is_iso_date(text):
        raise click.BadParameter(f"'{value}' has no time zone; {example}")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if out_of_range(ts):
        raise click.BadParameter(f"'{value}' is outside the supported dates ({DATE_RANGE_TEXT})")
    return ts


@main.command("backtest")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@click.option("--start", "start", default=None, metavar="DATE", callback=_backtest_start,
              help="First hour of the span (UTC), e.g. 2026-10-30; default: first usage hour + forecast.lookback_days.")
@click.option("--replan-every", default="1M", show_default=True, callback=_replan_every, metavar="OFFSET",
              help="Re-plan interval: 1M (calendar month), 2W, 7D, 36h (at least a day)")
@click.option("--plan-months", "plan_months", type=click.IntRange(1, 120), default=None, metavar="N",
              help="Each re-plan plans at least N months ahead (e.g. 36: over 3-year terms, which weighs their "
                   "lock-in); default: the rest of the span. The score is the span's either way.")
@scenario_options
@output_options(("table", "json"))
@handle_errors
def backtest_cmd(scenario, start, replan_every, plan_months, fmt, output, **overrides):
    """Replay SCENARIO's usage history: re-plan every --replan-every with only the data seen
    so far, buy that step's purchases, and score the whole span on the actual usage against
    on_demand, provider_lookback_7d/30d/60d (console-style recommendations), hindsight (the
    future known, no floor, budget or ladder limit: the limit) and hindsight_within_rules.

    \b
    Example:
      gpuladder backtest scenarios/examples/steady-inference.yaml --start 2026-10-30 --replan-every 7D
      gpuladder backtest my.yaml --format json -o backtest.json
    \b
    Python: gpuladder.solver.backtest.backtest_scenario(load_scenario(path), BacktestOptions(start, "1M"))
    """
    from gpuladder.report.backtest import render_backtest
    from gpuladder.solver.backtest import BacktestOptions, backtest_scenario

    sc = build_scenario(scenario, **overrides)
    result = backtest_scenario(sc, BacktestOptions(start, replan_every, plan_months=plan_months),
                               progress=lambda m: click.echo(m, err=True))
    emit(render_backtest(result, fmt), output)


if __name__ == "__main__":  # pragma: no cover
    main()
