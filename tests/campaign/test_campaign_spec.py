"""The campaign file: expansion into cells, stable ids, overrides, order, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.campaign.spec import Campaign, cell_id_of, load_campaign, parse_campaign
from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError
from inferlca.hardware.catalog import get_catalog

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def parse(text: str) -> Campaign:
    return parse_campaign(text, source="t.yaml")


GRID = """
name: g
cooldown_s: 5
defaults: {period_ms: 10, repetitions: 3}
grid:
  workloads: ["null", bert-large-squad]
  queries: [16, 32]
  devices: [H100, jetson-agx-orin-64gb]
overrides:
  - where: {device: [Orin]}
    set: {period_ms: 50}
"""


#: GRID's cell ids as computed at main 7bc87af, before the nested endpoint axes: they must not move
GRID_IDS = ["025a725e782d", "0ae7db056906", "116b1fae1b32", "1cd5aa5f19db", "228f1ec8eb2d",
            "84c7aa6fe9ef", "a1c1d0259461", "c614ab09b165"]


def test_grid_cell_ids_do_not_move() -> None:
    assert sorted(c.cell_id for c in parse(GRID).cells) == GRID_IDS


def test_grid_expands_to_the_product_of_its_axes() -> None:
    c = parse(GRID)
    # 2 workloads x 2 query counts x 2 devices = 8 cells
    assert len(c.cells) == 8
    assert {(x.spec.workload, x.spec.queries, x.spec.device) for x in c.cells} == {
        (w, q, d) for w in ("null", "bert-large-squad") for q in (16, 32)
        for d in ("h100-sxm5-80gb", "jetson-agx-orin-64gb")}
    # defaults apply everywhere, the override only to the Orin cells (matched through an alias)
    for x in c.cells:
        assert x.spec.repetitions == 3 and x.spec.cooldown_s == 5.0
        assert x.spec.period_ms == (50 if x.device == "jetson-agx-orin-64gb" else 10)
    # every stored run names its campaign and cell
    assert all(x.spec.extra == {"campaign": "g", "campaign_cell": x.cell_id} for x in c.cells)
    assert all(x.spec.label == f"g/{x.cell_id}" for x in c.cells)
    assert [x.index for x in c.cells] == list(range(8))
    assert len({x.cell_id for x in c.cells}) == 8


def test_cell_ids_are_stable_and_name_only_what_is_measured() -> None:
    a = parse(GRID)
    # the same grid written with other key order and other device names: the same ids
    b = parse("""
grid:
  devices: [h100-sxm5-80gb, Jetson AGX Orin 64GB]
  queries: [16, 32]
  workloads: ["null", bert-large-squad]
defaults: {repetitions: 3, period_ms: 10}
cooldown_s: 5
name: g
overrides:
  - set: {period_ms: 50}
    where: {device: jetson-agx-orin-64gb}
""")
    assert sorted(x.cell_id for x in a.cells) == sorted(x.cell_id for x in b.cells)
    # the id is a hash of the spec: recomputing it from the spec gives it back, and the label
    # does not enter it
    cell = a.cells[0]
    assert cell_id_of(cell.spec) == cell.cell_id
    cell.spec.label = "something else"
    assert cell_id_of(cell.spec) == cell.cell_id
    # changing what is measured changes it; so does the campaign name
    cell.spec.queries += 1
    assert cell_id_of(cell.spec) != cell.cell_id
    renamed = parse(GRID.replace("name: g", "name: h"))
    assert not {x.cell_id for x in renamed.cells} & {x.cell_id for x in a.cells}


def test_random_order_is_a_seeded_permutation() -> None:
    seq = parse(GRID)
    r1 = parse(GRID + "order: random\nseed: 7\n")
    r2 = parse(GRID + "order: random\nseed: 7\n")
    r3 = parse(GRID + "order: random\nseed: 8\n")
    ids = [x.cell_id for x in seq.cells]
    assert [x.cell_id for x in r1.cells] == [x.cell_id for x in r2.cells]
    assert sorted(x.cell_id for x in r1.cells) == sorted(ids)
    assert [x.cell_id for x in r1.cells] != ids or [x.cell_id for x in r3.cells] != ids
    assert [x.index for x in r1.cells] == list(range(8))


def test_device_classes_expand_from_the_catalog() -> None:
    c = parse('grid: {workloads: ["null"], device_classes: [edge], devices: [local]}')
    edge = [d.id for d in get_catalog().devices(category="edge")]
    assert len(edge) >= 2
    assert [x.device for x in c.cells] == [None, *edge]
    # the study's name for datacenter devices is accepted
    big = parse('grid: {workloads: ["null"], device_classes: [large-scale]}')
    assert {x.device for x in big.cells} == {d.id for d in get_catalog().devices(category="datacenter")}


def test_overrides_that_make_cells_identical_leave_one_cell() -> None:
    c = parse("""
grid: {workloads: ["null"], queries: [4, 8]}
overrides:
  - where: {queries: 8}
    set: {queries: 4}
""")
    assert [x.spec.queries for x in c.cells] == [4]


def test_any_runspec_field_is_an_axis() -> None:
    c = parse('grid: {workloads: ["null"], precision: [fp32, fp16], scenarios: offline}')
    assert [(x.spec.precision, x.spec.scenario) for x in c.cells] == [("fp32", "offline"),
                                                                       ("fp16", "offline")]


def test_yaml_1_1_booleans_stay_text_and_numbers_become_text_where_text_is_expected() -> None:
    # PyYAML would read NO (Norway) and ON as booleans; a campaign keeps them as region codes
    c = parse('grid: {workloads: ["null"], regions: [FR, NO, "SE"]}\n'
              'defaults: {pue: 1.5, lifetime_years: 5, accuracy: false}')
    assert [x.spec.region for x in c.cells] == ["FR", "NO", "SE"]
    assert {(x.spec.pue, x.spec.lifetime_years, x.spec.accuracy) for x in c.cells} == {
        ("1.5", "5", False)}


def test_example_files_are_valid() -> None:
    study = load_campaign(EXAMPLES / "study_grid.yaml")
    # the study: 5 query counts x 11 devices, 10 repetitions each = 55 cells, 550 repetitions
    assert len(study.cells) == 55
    assert sum(x.spec.repetitions for x in study.cells) == 550
    assert len({x.device for x in study.cells}) == 11
    assert {x.spec.queries for x in study.cells} == {16, 32, 64, 128, 256}
    assert all(x.spec.period_ms == 50 for x in study.cells if x.device and "jetson" in x.device)
    tiny = load_campaign(EXAMPLES / "tiny_campaign.yaml")
    assert len(tiny.cells) == 4 and all(x.device is None for x in tiny.cells)


@settings(max_examples=40, deadline=None)
@given(queries=st.lists(st.integers(1, 10_000), min_size=1, max_size=5),
       reps=st.lists(st.integers(1, 20), min_size=1, max_size=3),
       regions=st.lists(st.sampled_from(["FR", "DE", "US", "SE"]), min_size=1, max_size=3))
def test_cell_count_is_the_product_of_distinct_axis_values(queries, reps, regions) -> None:
    text = (f'grid: {{workloads: ["null"], queries: {queries}, repetitions: {reps}, '
            f'regions: {regions}}}')
    c = parse_campaign(text, workloads=["null"])
    assert len(c.cells) == len(set(queries)) * len(set(reps)) * len(set(regions))
    assert len({x.cell_id for x in c.cells}) == len(c.cells)


# ---- bad input: one clear message, exit code 2 -------------------------------------------------


@pytest.mark.parametrize("text, error, words", [
    ('gird: {queries: [1]}', UnknownNameError, ["'gird'", "did you mean 'grid'"]),
    ('grid: {querys: [1]}', UnknownNameError, ["'querys'", "'queries'"]),
    ('grid: {}', InvalidValueError, ["grid is empty"]),
    ('name: x', InvalidValueError, ["no 'grid'"]),
    ('grid: {queries: []}', InvalidValueError, ["grid.queries is an empty list"]),
    ('grid: {devices: [h10]}', UnknownNameError, ["unknown device 'h10'", "did you mean"]),
    ('grid: {device_classes: [cloud]}', UnknownNameError, ["unknown device class 'cloud'"]),
    ('grid: {workloads: [bert-larg-squad]}', UnknownNameError,
     ["unknown workload 'bert-larg-squad'", "bert-large-squad"]),
    ('grid: {workloads: [null]}', InvalidValueError, ['"null"']),
    ('grid: {queries: [1, 2]}\noverrides: [{where: {queries: 2}, set: {workload: nul}}]',
     UnknownNameError, ["unknown workload 'nul'", "'null'"]),
    ('grid: {scenarios: [singlestream]}', UnknownNameError, ["'singlestream'", "single-stream"]),
    ('grid: {queries: [0]}', InvalidValueError, ["queries must be an integer >= 1"]),
    ('defaults: {perod_ms: 5}\ngrid: {queries: [1]}', UnknownNameError, ["'period_ms'"]),
    ('grid: {queries: [1]}\noverrides: [{where: {device: a40}}]', InvalidValueError, ["no 'set'"]),
    ('grid: {queries: [1]}\noverrides: [{where: {quries: 1}, set: {}}]', UnknownNameError,
     ["'queries'"]),
    ('grid: {queries: [1]}\norder: shuffled', UnknownNameError, ["'shuffled'", "random"]),
    ('grid: {queries: [1]}\ncooldown_s: -1', InvalidValueError, ["cooldown_s"]),
    ('grid: [queries]', InvalidValueError, ["grid must be a mapping"]),
    ('grid: {regions: [FR, XX]}', UnknownNameError, ["unknown region 'XX'"]),
    ('grid: {regions: [FR, false]}', InvalidValueError, ["region must be text", "quotes"]),
    ('grid: {queries: [1.5]}', InvalidValueError, ["queries must be an integer, got 1.5"]),
    ('grid: {accuracy: [1]}', InvalidValueError, ["accuracy must be true or false"]),
    ('- a\n- b', InputFileError, ["YAML mapping"]),
    ('grid: {queries: [1, 2}', InputFileError, ["not valid YAML", "line 1"]),
])
def test_bad_campaign_files(text, error, words) -> None:
    with pytest.raises(error) as info:
        parse(text)
    msg = str(info.value)
    assert msg.startswith("t.yaml") and "\n" not in msg
    for w in words:
        assert w in msg
    assert info.value.exit_code == 2


def test_bad_files_through_the_cli(cli, tmp_path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("grid: {workloads: [\"null\"], querys: [4]}\n")
    r = cli("campaign", "plan", bad)
    assert r.code == 2
    assert r.err.strip().count("\n") == 0 and "did you mean 'queries'" in r.err
    assert "Traceback" not in r.err
    r = cli("campaign", "status", tmp_path / "missing.yaml")
    assert r.code == 2 and "no such campaign file" in r.err
    empty = tmp_path / "e.yaml"
    empty.write_text("grid: {}\n")
    store = tmp_path / "s.db"
    r = cli("campaign", "run", empty, "--store", store)
    assert r.code == 2 and "grid is empty" in r.err
    assert not store.exists()  # nothing touched before the file is valid


def test_plan_of_the_study_grid(cli) -> None:
    r = cli("campaign", "plan", EXAMPLES / "study_grid.yaml", "--json", "--no-estimate")
    assert r.code == 0, r.err
    d = r.json()
    assert d["cells"] == 55 and d["repetitions"] == 550 and d["cells_without_estimate"] == 55
    assert d["order"] == "random" and d["seed"] == 2025
