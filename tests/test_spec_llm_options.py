"""The decoder-LLM options are a typed part of the run spec (``RunSpec.llm``): checked, stored
with only what differs from the defaults, and read back from specs stored before they existed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferlca.campaign.spec import cell_id_of
from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.spec import (
    BATCHING_MODES,
    OVERFLOW_POLICIES,
    SAMPLING_MODES,
    LLMOptions,
    RunSpec,
)

options = st.builds(
    LLMOptions,
    sampling=st.sampled_from(SAMPLING_MODES),
    temperature=st.floats(min_value=1e-3, max_value=10.0),
    top_k=st.integers(0, 1000),
    prompt_len=st.tuples(st.integers(1, 500), st.integers(0, 500)).map(
        lambda t: f"{t[0]}..{t[0] + t[1]}" if t[1] else str(t[0])),
    prompt_overflow=st.sampled_from(OVERFLOW_POLICIES),
    max_batch=st.integers(1, 256),
    batching=st.sampled_from(BATCHING_MODES),
    force_length=st.sampled_from([None, True, False]),
)


@given(options)
def test_options_round_trip_through_a_stored_spec(opts):
    opts.validate()
    spec = RunSpec(workload="llm-generate", llm=opts)
    stored = json.loads(json.dumps(spec.to_dict()))
    back = RunSpec.from_dict(stored)
    assert back == spec and back.llm == opts
    assert LLMOptions.from_dict(opts.to_dict()) == opts


def test_only_options_that_differ_from_the_defaults_are_stored():
    assert RunSpec().to_dict()["llm"] == {}
    spec = RunSpec(llm=LLMOptions(max_batch=4, batching="continuous"))
    assert spec.to_dict()["llm"] == {"max_batch": 4, "batching": "continuous"}


def test_a_spec_stored_with_its_options_in_extra_reads_the_same():
    old = {**RunSpec(workload="llm-generate").to_dict(),
           "extra": {"prompt_len": "4..24", "max_batch": 4, "recalibrate": True}}
    del old["llm"]  # written before RunSpec.llm existed
    spec = RunSpec.from_dict(old)
    assert spec.llm == LLMOptions(prompt_len="4..24", max_batch=4)
    assert spec.extra == {"recalibrate": True}  # what is not an LLM option stays in extra
    # and so does a spec built in code the old way, or from a campaign file's mapping
    assert RunSpec(extra={"sampling": "sample"}).llm.sampling == "sample"
    assert RunSpec(llm={"top_k": 5}).llm == LLMOptions(top_k=5)  # type: ignore[arg-type]


def test_campaign_cell_ids_do_not_change_with_typed_options():
    # golden ids computed before RunSpec.llm existed (options then lived in extra)
    legacy = RunSpec(workload="llm-generate", preset="tiny",
                     extra={"max_batch": 4, "prompt_len": "4..24", "campaign": "g"})
    typed = RunSpec(workload="llm-generate", preset="tiny", extra={"campaign": "g"},
                    llm=LLMOptions(max_batch=4, prompt_len="4..24"))
    assert cell_id_of(legacy) == cell_id_of(typed) == "b998eaa85d50"
    assert cell_id_of(RunSpec()) == "00affc0ffbff"


@pytest.mark.parametrize("bad, error, match", [
    ({"sampling": "beam"}, UnknownNameError, "sampling mode"),
    ({"temperature": 0.0}, InvalidValueError, "temperature"),
    ({"temperature": float("inf")}, InvalidValueError, "temperature"),
    ({"top_k": -1}, InvalidValueError, "top_k"),
    ({"prompt_len": "64..16"}, InvalidValueError, "prompt_len"),
    ({"prompt_overflow": "drop"}, UnknownNameError, "prompt overflow policy"),
    ({"max_batch": 0}, InvalidValueError, "max_batch"),
    ({"max_batch": "4"}, InvalidValueError, "max_batch"),
    ({"batching": "dynamic"}, UnknownNameError, "batching mode"),
    ({"force_length": "yes"}, InvalidValueError, "force_length"),
])
def test_each_option_is_checked(bad, error, match):
    with pytest.raises(error, match=match):
        LLMOptions(**bad).validate()


def test_an_unknown_option_is_refused_by_name():
    with pytest.raises(UnknownNameError, match="LLM option.*max_batches"):
        LLMOptions.from_dict({"max_batches": 4})
