"""GPUs in campaign files and the GPUs a Ray task asks for (issue 17 part 3), without Ray or a GPU:
the options each cell's task would be submitted with are checked directly."""

from __future__ import annotations

import pytest

from inferlca.campaign.ray import gpus_requested, task_options
from inferlca.campaign.spec import parse_campaign
from inferlca.errors import InvalidValueError

WL = 'workloads: ["null"], queries: [3]'


def cells(text: str):
    return parse_campaign(text, source="g.yaml").cells


def test_gpus_in_defaults_grid_and_overrides_are_canonical_text():
    (c,) = cells(f"name: g\ndefaults: {{gpus: [0, 2], meter: nvml}}\ngrid: {{{WL}}}")
    assert c.spec.gpus == "0,2"
    got = [c.spec.gpus for c in cells(f"name: g\ngrid: {{{WL}, meter: [nvml], gpus: [0, \"1,3\", [2, 0]]}}")]
    assert got == ["0", "1,3", "2,0"]
    (c,) = cells(f"name: g\ndefaults: {{gpus: 1}}\ngrid: {{{WL}}}")  # auto may find NVML
    assert c.spec.gpus == "1"


def test_cells_without_gpus_keep_their_ids():
    a = cells(f"name: g\ngrid: {{{WL}, meter: [nvml]}}")[0]
    b = cells(f"name: g\ndefaults: {{gpus: null}}\ngrid: {{{WL}, meter: [nvml]}}")[0]
    assert a.cell_id == b.cell_id


@pytest.mark.parametrize("bad, match", [
    ('"x"', "GPU indices"), ("[0, 0]", "distinct"), ("-1", "GPU indices"), ("true", "GPU indices"),
    ('["a"]', "GPU indices"),
])
def test_bad_gpus_stop_the_campaign_with_one_message(bad, match):
    with pytest.raises(InvalidValueError, match=match):
        cells(f"name: g\ndefaults: {{gpus: {bad}, meter: nvml}}\ngrid: {{{WL}}}")


def test_gpus_with_a_meter_that_reads_no_nvidia_gpu_is_refused():
    with pytest.raises(InvalidValueError, match="goes with the nvml meter"):
        cells(f"name: g\ndefaults: {{gpus: 0, meter: rapl}}\ngrid: {{{WL}}}")


def test_meter_combinations_are_accepted_canonical_and_checked():
    (c,) = cells(f"name: g\ngrid: {{{WL}, meter: [nvidia+powercap]}}")
    assert c.spec.meter == "nvml+rapl"
    with pytest.raises(InvalidValueError, match="counts a rail twice"):
        cells(f"name: g\ngrid: {{{WL}, meter: [rapl+modelled]}}")


@pytest.mark.parametrize("meter, gpus, want", [
    ("nvml", None, 1), ("nvml", "0,2", 2), ("nvml+rapl", "1,2,3", 3), ("nvidia", None, 1),
    ("amdgpu+rapl", None, 1), ("intel-gpu", None, 1), ("rapl", None, 0), ("auto", None, 0),
    ("modelled", None, 0), ("auto", "3", 1),
])
def test_gpus_requested(meter, gpus, want):
    (c,) = cells(f"name: g\ngrid: {{{WL}, meter: [{meter}]}}"
                 + (f"\ndefaults: {{gpus: \"{gpus}\"}}" if gpus else ""))
    assert gpus_requested(c.spec) == want


def test_task_options_carry_the_device_resource_and_the_gpus():
    two, cpu = cells(f"name: g\ngrid: {{{WL}, meter: [nvml, rapl]}}\ndefaults: {{}}"
                     "\noverrides: [{where: {meter: nvml}, set: {gpus: \"0,1\"}}]")
    assert task_options(two, "device:h100-sxm5-80gb") == {
        "resources": {"device:h100-sxm5-80gb": 1}, "num_gpus": 2,
        "name": f"inferlca-cell-{two.cell_id}"}
    assert task_options(cpu, "device:x")["num_gpus"] == 0
