"""Audit of the GCP and Azure commitment products and their billing (session 7).

What the providers document, and what these tests hold the catalog and the simulator to:

* GCP resource-based CUDs are 1- or 3-year, no upfront, billed monthly; a GPU commitment
  must have reservations attached (docs.cloud.google.com/compute/docs/committed-use-discounts/
  purchase-commitments-with-reservations), a reservation serves only VMs whose machine type
  matches exactly and is charged whether used or not (.../instances/reservations-overview).
  So a GPU CUD serves its machine type in its region: an idle a3-highgpu-8g commitment does
  not discount an a3-highgpu-4g. Spot VMs get no CUD: committed capacity serves interruptible
  work as a regular VM, the rest runs on spot.
* Azure reservations: monthly and upfront payment cost the same total (learn.microsoft.com,
  reservations/monthly-payments-reservations), so one no-upfront product per term.
  Instance size flexibility is not modeled (the embedded README says so): the simulator's
  bill is an upper bound where several sizes of one group run.
* Azure savings plan for compute (one a user holds, laid over the catalog): reservations are
  applied first, then the plan to the usage with the greatest discount first, hour by hour,
  use-it-or-lose-it (learn.microsoft.com, savings-plan/discount-application) -- the rules the
  simulator applies to every provider.
"""

from __future__ import annotations

import pandas as pd
import pytest

from gpuladder.pricing.catalog import PriceCatalog, catalog_from_frames, embedded_catalog, embedded_catalog_dir
from gpuladder.solver.book import CommitmentBook, make_purchases
from gpuladder.solver.simulate import DispatchRules, simulate

T0 = pd.Timestamp("2026-01-01", tz="UTC")
A3_8G = "gcp/us-central1/a3-highgpu-8g"      # on-demand 88.49, spot 50.609541, CUD 3y 38.864381
A3_4G = "gcp/us-central1/a3-highgpu-4g"      # on-demand 44.245
NC24 = "azure/eastus/Standard_NC24ads_A100_v4"   # on-demand 3.673, reservation 1y 2.31399
NC48 = "azure/eastus/Standard_NC48ads_A100_v4"   # on-demand 7.346
ND96 = "azure/eastus/Standard_ND96isr_H100_v5"   # on-demand 98.32, reservation 1y 61.9416


@pytest.fixture(scope="module")
def emb() -> PriceCatalog:
    return embedded_catalog()


def hours(columns: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame(columns, index=pd.date_range(T0, periods=n, freq="h", tz="UTC"), dtype=float)


def book(catalog: PriceCatalog, rows) -> CommitmentBook:
    """rows: (product, family or '', quantity), all starting at T0."""
    return make_purchases(catalog, pd.DataFrame({
        "id": [f"c{i}" for i in range(len(rows))], "product": [r[0] for r in rows],
        "family": [r[1] for r in rows], "quantity": [float(r[2]) for r in rows], "start": T0}))


def test_embedded_prices_these_cases_use(emb):
    fam = emb.families
    com = emb.commitments.set_index(["product", "family"])["rate_usd_per_hour"]
    assert fam.loc[A3_8G, "on_demand_usd_per_hour"] == 88.49
    assert fam.loc[A3_8G, "spot_usd_per_hour"] == pytest.approx(50.609541)
    assert fam.loc[A3_4G, "on_demand_usd_per_hour"] == 44.245
    assert com[("gcp-cud-3y", A3_8G)] == pytest.approx(38.864381)
    assert fam.loc[NC24, "on_demand_usd_per_hour"] == 3.673 and fam.loc[NC48, "on_demand_usd_per_hour"] == 7.346
    assert com[("azure-ri-1y-no_upfront", NC24)] == pytest.approx(2.31399)
    assert com[("azure-ri-1y-no_upfront", ND96)] == pytest.approx(61.9416)


def test_gcp_gpu_cud_serves_its_machine_type_only(emb):
    """3 x a3-highgpu-8g CUD 3y (38.864381 $/h each) in us-central1; demand 8g [2, 4], 4g [4, 4].
    Hour 1: two 8g covered, one committed 8g idle (billed), the four 4g on-demand although the
    idle commitment holds 8 H100s of the same region: 116.593143 + 4 x 44.245.
    Hour 2: three 8g covered, one on-demand: 116.593143 + 88.49 + 176.98. Total 675.636286."""
    cat = emb.subset([A3_8G, A3_4G])
    demand = hours({A3_8G: [2, 4], A3_4G: [4, 4]})
    res = simulate(book(cat, [("gcp-cud-3y", A3_8G, 3)]), demand, demand * 0, cat, DispatchRules())
    assert res.kpis.cost_usd == pytest.approx(2 * 3 * 38.864381 + 2 * 4 * 44.245 + 88.49, abs=1e-6)
    assert res.kpis.cost_usd == pytest.approx(675.636286, abs=1e-6)
    assert res.hourly.reserved_instances[A3_8G].tolist() == [2.0, 3.0]
    assert res.hourly.reserved_instances[A3_4G].tolist() == [0.0, 0.0]
    assert res.hourly.on_demand_instances[A3_4G].tolist() == [4.0, 4.0]
    assert res.by_commitment.loc["c0", "utilization"] == pytest.approx(5 / 6)
    assert res.kpis.upfront_usd == 0.0


def test_gcp_spot_work_uses_idle_committed_capacity_before_spot(emb):
    """2 x a3-highgpu-8g CUD 3y; demand 3 of which 2 interruptible; '>20%' overhead 0.2.
    The firm instance and one interruptible one run on the committed VMs; the other
    interruptible one on spot at 50.609541 x 1.2 (a Spot VM gets no CUD):
    2 x 38.864381 + 60.7314492 = 138.4602112."""
    cat = emb.subset([A3_8G])
    demand = hours({A3_8G: [3]})
    inter = hours({A3_8G: [2]})
    res = simulate(book(cat, [("gcp-cud-3y", A3_8G, 2)]), demand, inter, cat,
                   DispatchRules(rework_overhead={">20%": 0.2}))
    assert res.hourly.reserved_instances[A3_8G].iloc[0] == 2.0
    assert res.hourly.spot_instances[A3_8G].iloc[0] == 1.0
    assert res.kpis.cost_usd == pytest.approx(138.4602112, abs=1e-6)


def test_azure_reservation_is_family_specific_an_upper_bound_on_size_flexibility(emb):
    """2 x NC24ads_A100_v4 reservation 1y (2.31399 $/h each); demand NC24ads 1, NC48ads 1.
    The simulator bills the idle reserved NC24ads and the NC48ads on-demand:
    4.62798 + 7.346 = 11.97398. Azure's instance size flexibility would let the idle unit
    cover part of the NC48ads: never more than the simulator's bill."""
    cat = emb.subset([NC24, NC48])
    demand = hours({NC24: [1], NC48: [1]})
    res = simulate(book(cat, [("azure-ri-1y-no_upfront", NC24, 2)]), demand, demand * 0, cat, DispatchRules())
    assert res.kpis.cost_usd == pytest.approx(2 * 2.31399 + 7.346, abs=1e-9)
    assert res.hourly.reserved_instances[NC48].iloc[0] == 0.0
    assert res.by_commitment.loc["c0", "utilization"] == pytest.approx(0.5)


@pytest.fixture(scope="module")
def with_azure_plan(emb) -> PriceCatalog:
    """The embedded ND96isr_H100_v5 and NC24ads_A100_v4 with a held Azure savings plan laid
    over: 40% off ND96 (58.992 $ of commitment per hour), 20% off NC24 (2.9384)."""
    sub = emb.subset([ND96, NC24])
    plan = pd.DataFrame({
        "product": "my-azure-sp-1y", "provider": "azure", "kind": "savings_plan", "term_months": 12,
        "payment": "no_upfront", "upfront_share": 0.0, "family": [ND96, NC24],
        "rate_usd_per_hour": [98.32 * 0.6, 3.673 * 0.8], "source": "test: a held plan", "as_of": "2026-05-20"})
    com = pd.concat([sub.commitments, plan], ignore_index=True)
    return catalog_from_frames(sub.families.reset_index(), com, origin="test")


def test_azure_reservation_first_then_plan_to_greatest_discount_hourly(with_azure_plan):
    """Reservation 1 x ND96 (61.9416 $/h) and a 60 $/h plan; demand ND96 [2, 1], NC24 [3, 0].
    Hour 1: the reservation takes one ND96; the plan takes the other ND96 first (40% off beats
    20%: 58.992 $), its last 1.008 $ covers 1.008 / 2.9384 NC24; the rest of the NC24s run
    on-demand: 61.9416 + 60 + (3 - 1.008 / 2.9384) x 3.673.
    Hour 2: the reservation takes the only ND96; the plan's 60 $ is lost: 61.9416 + 60."""
    cat = with_azure_plan
    demand = hours({ND96: [2, 1], NC24: [3, 0]})
    res = simulate(book(cat, [("azure-ri-1y-no_upfront", ND96, 1), ("my-azure-sp-1y", "", 60)]),
                   demand, demand * 0, cat, DispatchRules())
    nc24_covered = 1.008 / 2.9384
    hour1 = 61.9416 + 60 + (3 - nc24_covered) * 3.673
    assert res.hourly.cost["cost_usd"].tolist() == pytest.approx([hour1, 61.9416 + 60], abs=1e-6)
    assert res.hourly.reserved_instances[ND96].tolist() == [1.0, 1.0]
    assert res.hourly.savings_plan_instances[ND96].tolist() == pytest.approx([1.0, 0.0])
    assert res.hourly.savings_plan_instances[NC24].tolist() == pytest.approx([nc24_covered, 0.0])
    assert res.by_commitment.loc["c1", "utilization"] == pytest.approx(0.5)


def test_gcp_products_are_resource_cuds_no_upfront_per_machine_type(emb):
    products = emb.products()
    gcp = products[products["provider"] == "gcp"]
    assert list(gcp.index) == ["gcp-cud-1y", "gcp-cud-3y"]
    assert gcp["kind"].eq("reservation").all() and gcp["payment"].eq("no_upfront").all()
    assert gcp["upfront_share"].eq(0.0).all() and sorted(gcp["term_months"]) == [12, 36]
    covered = emb.commitments.loc[emb.commitments["provider"] == "gcp", "family"]
    assert not covered.str.contains("/a2-ultragpu-").any()   # the source lists no CUD price for them


def test_azure_products_are_monthly_reservations_without_partial_upfront(emb):
    products = emb.products()
    azure = products[products["provider"] == "azure"]
    assert list(azure.index) == ["azure-ri-1y-no_upfront", "azure-ri-3y-no_upfront"]
    assert azure["kind"].eq("reservation").all() and azure["upfront_share"].eq(0.0).all()
    assert azure["n_families"].eq((emb.families["provider"] == "azure").sum()).all()


def test_gcp_and_azure_rows_carry_honest_source_and_as_of(emb):
    fam = emb.families
    com = emb.commitments
    for provider, repo in (("gcp", "Cyclenerd/google-cloud-pricing-cost-calculator:pricing.yml@"),
                           ("azure", "anycloud-sh/catalog:azure/vms.csv@")):
        rows = fam[fam["provider"] == provider]
        assert rows["source"].str.startswith(repo).all()
        assert rows["as_of"].nunique() == 1
    gcp = com[com["provider"] == "gcp"]
    assert (gcp["source"].to_numpy() == fam.loc[gcp["family"], "source"].to_numpy()).all()
    assert (gcp["as_of"].to_numpy() == fam.loc[gcp["family"], "as_of"].to_numpy()).all()
    azure = com[com["provider"] == "azure"]
    assert azure["source"].str.startswith("estimate: reservation (monthly billing) = on-demand x ").all()
    assert (azure["as_of"].to_numpy() == fam.loc[azure["family"], "as_of"].to_numpy()).all()


def test_embedded_readme_states_the_gcp_and_azure_scope():
    text = (embedded_catalog_dir() / "README.md").read_text()
    assert "GCP requires a GPU commitment to have\n  reservations attached" in text
    assert "no 1y CUD: a2-ultragpu 160, g4-standard 7; no 3y CUD: a2-ultragpu 160" in text
    assert "instance size flexibility" in text and "upper bound" in text
    assert "GCP publishes no CUD for A2 Ultra" not in text
