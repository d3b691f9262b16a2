"""One validation path for a run: RunSpec.validate owns every field rule, the CLI and campaign
files both come through it, one parser reads "a number or an interval a..b within bounds", and
library errors name parameters that each command shows as its own flags."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError, UnknownNameError, UsageError, named
from inferlca.lca.defaults import GRID_BOUNDS, LIFETIME_BOUNDS, PUE_BOUNDS
from inferlca.spec import RunSpec
from inferlca.uncertainty import Bounds, UValue, parse_bounded

# --- RunSpec.validate ---------------------------------------------------------------------------

# field, bad value, words the message must hold (the field and the accepted range)
BAD = [
    ("pue", "0.5", ["pue must be >= 1", "1.1..1.6", "'0.5'"]),
    ("pue", 0.9, ["pue must be >= 1"]),
    ("pue", "0.5..1.2", ["pue must be >= 1"]),
    ("pue", "1.6..1.1", ["pue: inverted interval", "accepted: >= 1"]),
    ("pue", "one", ["pue: cannot read 'one'", "accepted"]),
    ("lifetime_years", "-3", ["lifetime_years must be > 0 years", "4..7"]),
    ("lifetime_years", "0", ["lifetime_years must be > 0 years"]),
    ("lifetime_years", "7..4", ["lifetime_years: inverted interval", "e.g. 4..7"]),
    ("grid_gco2e_per_kwh", "-1", ["grid_gco2e_per_kwh must be >= 0 gCO2e/kWh"]),
    ("grid_gco2e_per_kwh", "nan", ["grid_gco2e_per_kwh: 'nan' is not a finite number"]),
    ("threads", 0, ["threads must be an integer >= 1", "got 0"]),
    ("threads", 1.5, ["threads must be an integer >= 1"]),
    ("offline_samples", 0, ["offline_samples must be an integer >= 1"]),
    ("queries", 0, ["queries must be an integer >= 1"]),
    ("repetitions", True, ["repetitions must be an integer >= 1"]),
    ("max_new_tokens", -1, ["max_new_tokens must be an integer >= 1"]),
    ("seed", -1, ["seed must be an integer >= 0"]),
    ("period_ms", 0.0, ["period_ms must be a finite number > 0"]),
    ("target_qps", math.inf, ["target_qps must be a finite number > 0"]),
    ("duration_s", math.nan, ["duration_s must be a finite number > 0"]),
    ("cooldown_s", -1, ["cooldown_s must be a finite number >= 0"]),
    ("think_time_s", "5", ["think_time_s must be a finite number >= 0"]),
    ("accuracy", 1, ["accuracy must be true or false"]),
    ("workload", "", ["workload must be non-empty text"]),
    ("weights", 3, ["weights must be text"]),
    ("extra", [], ["extra must be a mapping"]),
]


@pytest.mark.parametrize("field,value,words", BAD)
def test_validate_refuses_a_bad_field_naming_it_and_the_range(field, value, words):
    with pytest.raises(InvalidValueError) as exc:
        RunSpec(**{field: value}).validate()
    msg = str(exc.value)
    for w in words:
        assert w in msg, msg
    assert exc.value.params == (field,) and exc.value.exit_code == 2
    assert "--" not in msg  # the library names the field, not a flag


def test_pue_text_below_one_raises():
    with pytest.raises(InvalidValueError):
        RunSpec(pue="0.5").validate()


@pytest.mark.parametrize("field,value,kind", [
    ("scenario", "batch", "scenario"), ("backend", "tensorrt", "backend"),
    ("precision", "fp64", "precision"), ("memory_method", "per-die", "memory method"),
    ("meter", "wattmeter", "meter"), ("region", "Atlantis", "region"),
])
def test_validate_refuses_unknown_names(field, value, kind):
    with pytest.raises(UnknownNameError) as exc:
        RunSpec(**{field: value}).validate()
    assert exc.value.kind == kind and exc.value.name == value


@pytest.mark.parametrize("kwargs", [
    {}, {"pue": "1"}, {"pue": 1.2}, {"pue": "1.1..1.6"}, {"lifetime_years": "4..7"},
    {"lifetime_years": 0.5}, {"grid_gco2e_per_kwh": "0"}, {"grid_gco2e_per_kwh": "50..80"},
    {"threads": 1}, {"offline_samples": 3}, {"cooldown_s": 0}, {"seed": 0},
    {"meter": "modeled"},  # the alias of modelled
    {"region": "Atlantis", "grid_gco2e_per_kwh": "100"},  # a custom grid overrides the region
])
def test_validate_accepts_good_specs(kwargs):
    spec = RunSpec(**kwargs)
    assert spec.validate() is spec


# --- the one parser -----------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(a=finite, b=finite)
def test_interval_text_round_trips(a, b):
    lo, hi = min(a, b), max(a, b)
    v = parse_bounded("x", f"{lo!r}..{hi!r}", Bounds())
    assert (v.low, v.high, v.value) == (lo, hi, (lo + hi) / 2)
    assert parse_bounded("x", repr(lo), Bounds()) == UValue.exact(lo)


@given(a=finite, b=finite, m=finite)
def test_bounds_hold_at_both_ends(a, b, m):
    lo, hi = min(a, b), max(a, b)
    text = f"{lo!r}..{hi!r}"
    for inclusive in (True, False):
        bounds = Bounds(minimum=m, min_inclusive=inclusive)
        ok = lo > m or (inclusive and lo == m)
        if ok:
            assert parse_bounded("x", text, bounds).low == lo
        else:
            with pytest.raises(InvalidValueError, match="x must be"):
                parse_bounded("x", text, bounds)
        upper = Bounds(maximum=m, max_inclusive=inclusive)
        ok = hi < m or (inclusive and hi == m)
        if ok:
            assert parse_bounded("x", text, upper).high == hi
        else:
            with pytest.raises(InvalidValueError, match="x must be"):
                parse_bounded("x", text, upper)


@given(lo=st.floats(min_value=0.001, max_value=100), w=st.floats(min_value=0.001, max_value=100))
def test_numbers_text_and_uvalues_read_alike(lo, w):
    hi = lo + w
    as_text = parse_bounded("lifetime_years", f"{lo!r}..{hi!r}", LIFETIME_BOUNDS)
    as_value = parse_bounded("lifetime_years", UValue.interval(lo, hi), LIFETIME_BOUNDS)
    assert as_text == as_value and as_text.unit == "years"
    assert parse_bounded("lifetime_years", lo, LIFETIME_BOUNDS).value == lo


@pytest.mark.parametrize("bounds,text", [(GRID_BOUNDS, "0"), (PUE_BOUNDS, "1"),
                                         (PUE_BOUNDS, "1..1.2")])
def test_inclusive_lower_bounds(bounds, text):
    assert parse_bounded("p", text, bounds).low == float(text.split("..")[0])


@pytest.mark.parametrize("value", ["0", 0, "0..3", True, "abc", "3..", math.inf])
def test_lifetime_refuses_zero_and_junk(value):
    with pytest.raises(InvalidValueError) as exc:
        parse_bounded("lifetime_years", value, LIFETIME_BOUNDS)
    assert "lifetime_years" in str(exc.value) and "> 0 years" in str(exc.value)


def test_bounds_describe_the_accepted_range():
    assert PUE_BOUNDS.describe() == ">= 1 (a number, or an interval such as 1.1..1.6)"
    assert LIFETIME_BOUNDS.describe() == "> 0 years (a number, or an interval such as 4..7)"
    assert Bounds(minimum=0, maximum=1, max_inclusive=True).describe() == \
        ">= 0 and <= 1 (a number, or an interval such as low..high)"


# --- errors name parameters; the CLI names flags ------------------------------------------------


def test_named_parameters_print_plainly_and_render_as_flags():
    e = UsageError(f"same workload and scenario; choose with {named('workload')}")
    assert str(e) == "same workload and scenario; choose with workload"
    assert e.params == ("workload",)
    # only the marked name becomes a flag, not the same word elsewhere in the sentence
    assert e.render({"workload": "--workload"}) == \
        "same workload and scenario; choose with --workload"
    e.args = (f"file.yaml: {e.args[0]}",)  # a caller prefixing the message keeps the marks
    assert e.render({"workload": "-w"}) == "file.yaml: same workload and scenario; choose with -w"
    plain = InvalidValueError("pue must be >= 1; see `inferlca pue`", param="pue")
    assert plain.render({"pue": "--pue"}) == "--pue must be >= 1; see `inferlca pue`"
    assert plain.render({}) == str(plain)


@pytest.mark.parametrize("flag", ["--lifetime", "--lifetime-years"])
def test_run_lifetime_error_names_the_flag_used(cli, flag):
    r = cli("run", flag, "7..4")
    assert r.code == 2
    assert r.err.startswith(f"error: {flag}: inverted interval '7..4'"), r.err
    assert "write it low..high, e.g. 4..7" in r.err and "Traceback" not in r.err


def test_one_spelling_for_the_lifetime_the_old_one_hidden(cli):
    for command in (("run",), ("estimate",), ("impact",)):
        r = cli(*command, "--help")
        assert "--lifetime-years" in r.out
        assert "--lifetime " not in r.out.replace("--lifetime-years", "")
    r = cli("run", "--lifetime", "5", "--lifetime-years", "6")
    assert r.code == 2 and "--lifetime-years and its old spelling --lifetime" in r.err


@pytest.mark.parametrize("args,message", [
    (["--pue", "0.5"], "error: --pue must be >= 1"),
    (["--grid", "-1"], "error: --grid must be >= 0 gCO2e/kWh"),
    (["--threads", "0"], "error: --threads must be an integer >= 1"),
    (["-n", "0"], "error: --queries must be an integer >= 1"),  # a short flag shows its long form
    (["--offline-samples", "0"], "error: --offline-samples must be an integer >= 1"),
    (["--period-ms", "0"], "error: --period-ms must be a finite number > 0"),
])
def test_run_errors_come_from_validate_with_run_flags(cli, args, message):
    r = cli("run", *args)
    assert r.code == 2 and r.err.startswith(message), r.err


def test_grid_zero_is_one_rule_for_run_and_estimate(cli):
    assert RunSpec(grid_gco2e_per_kwh="0").validate()
    r = cli("estimate", "--model", "bert-base", "--device", "t4", "--grid", "0", "--json")
    assert r.code == 0, r.err
    gwp_use = r.json()["devices"][0]["impact"]["use_gco2e"]
    assert gwp_use == {"value": 0.0, "low": 0.0, "high": 0.0}
    r = cli("estimate", "--model", "bert-base", "--device", "t4", "--grid", "-1")
    assert r.code == 2 and "--grid must be >= 0 gCO2e/kWh" in r.err


# --- campaign files -----------------------------------------------------------------------------


@pytest.mark.parametrize("defaults,words", [
    ('{pue: "0.5", threads: 0, lifetime_years: "-3"}', ["threads must be an integer >= 1"]),
    ('{pue: "0.5"}', ["pue must be >= 1", "1.1..1.6"]),
    ('{pue: 0.5}', ["pue must be >= 1"]),
    ('{lifetime_years: "-3"}', ["lifetime_years must be > 0 years", "4..7"]),
    ('{grid_gco2e_per_kwh: "80..50"}', ["grid_gco2e_per_kwh: inverted interval"]),
    ('{seed: -2}', ["seed must be an integer >= 0"]),
])
def test_campaign_plan_refuses_bad_defaults_before_anything_runs(cli, tmp_path, defaults, words):
    f = tmp_path / "bad.yaml"
    f.write_text(f"defaults: {defaults}\ngrid:\n  workloads: [\"null\"]\n  queries: [16, 32]\n")
    store = tmp_path / "s.db"
    r = cli("campaign", "plan", f, "--store", store)
    assert r.code == 2, r.err
    errors = [x for x in r.err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and str(f) in errors[0]
    for w in words:
        assert w in errors[0], errors[0]
    assert "--" not in errors[0]  # a campaign file's key, not a flag
    assert not store.exists()
