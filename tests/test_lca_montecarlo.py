"""Monte Carlo beside the interval arithmetic: convergence properties, P(A < B), bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError
from inferlca.lca.montecarlo import (
    Draws,
    MCInputs,
    Spread,
    check_samples_seed,
    prob_less,
    simulate,
    summarize,
    triangular_draws,
)
from inferlca.uncertainty import UValue

GRID = UValue(79.1, 44.18, 80.08)
PUE = UValue(1.5, 1.08, 1.58)
LIFE = UValue(7.0, 3.0, 7.0)
FOOT = UValue(120.0, 60.0, 240.0)


def _inputs(energies=(100.0, 110.0, 120.0), grid=GRID, pue=PUE, life=LIFE, foot=FOOT,
            queries=16):
    return MCInputs(Spread.of(energies), Spread.of([10.0, 10.5, 11.0][:len(energies)]),
                    grid, pue, life, foot, queries)


def test_triangular_inverse_cdf_golden():
    # triangular(0, 1, 2): F(1) = 0.5; u = 0.125 -> sqrt(0.125 x 2 x 1) = 0.5; u = 0.875 -> 1.5
    x = triangular_draws(np.array([0.0, 0.125, 0.5, 0.875, 1.0]), 0.0, 1.0, 2.0)
    assert x.tolist() == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    assert triangular_draws(np.array([0.3]), 5.0, 5.0, 5.0).tolist() == [5.0]


@settings(max_examples=25, deadline=None)
@given(st.floats(1.0, 1e3), st.floats(0.05, 0.9), st.integers(0, 2**31))
def test_one_symmetric_input_median_and_extremes_converge(nominal, rel, seed):
    """One uncertain input (a symmetric grid interval), every other input exact: the median
    converges to the interval arithmetic's nominal, the extreme draws to its bounds."""
    grid = UValue(nominal, nominal * (1 - rel), nominal * (1 + rel))
    inp = MCInputs(Spread.exact(3600.0), Spread.exact(10.0), grid, UValue.exact(1.0),
                   UValue.exact(7.0), UValue.exact(0.0), None)
    iv = inp.interval_total_g()
    x = simulate([inp], Draws(40_000, seed))[0]
    width = iv.high - iv.low
    assert np.median(x) == pytest.approx(iv.value, abs=0.02 * width)
    assert x.min() >= iv.low - 1e-12 and x.max() <= iv.high + 1e-12
    assert x.min() - iv.low < 0.05 * width and iv.high - x.max() < 0.05 * width


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(1.0, 1e4), min_size=1, max_size=6), st.integers(0, 2**31))
def test_every_draw_lies_in_the_interval_arithmetic(energies, seed):
    """All inputs uncertain: every draw is inside [low, high] of the interval arithmetic on the
    same inputs (energy: the run interval rule), and the median lies between the bounds."""
    inp = MCInputs(Spread.of(energies), Spread.of([10.0 + i for i in range(len(energies))]),
                   GRID, PUE, LIFE, FOOT, 4)
    iv = inp.interval_total_g()
    x = simulate([inp], Draws(5_000, seed))[0]
    tol = 1e-9 * iv.high
    assert x.min() >= iv.low - tol and x.max() <= iv.high + tol
    s = summarize(x)
    assert iv.low <= s["p2_5"] <= s["median"] <= s["p97_5"] <= iv.high + tol


def test_energy_percentiles_follow_the_student_interval():
    """Energy alone uncertain (three repetitions 100, 110, 120 J): the 2.5 and 97.5 percentiles of
    the draws converge to the Student 95 % interval of the mean, 110 -/+ 4.3027 x 10 / sqrt 3,
    which is also the run interval rule's energy interval."""
    inp = MCInputs(Spread.of([100.0, 110.0, 120.0]), Spread.exact(1.0), UValue.exact(1.0),
                   UValue.exact(1.0), UValue.exact(1.0), UValue.exact(0.0), None)
    x = simulate([inp], Draws(200_000, 7))[0] * 3.6e6  # back to J
    half = 4.302652729749 * 10.0 / 3 ** 0.5
    s = summarize(x)
    assert s["median"] == pytest.approx(110.0, abs=0.2)
    assert s["p2_5"] == pytest.approx(110.0 - half, abs=0.5)
    assert s["p97_5"] == pytest.approx(110.0 + half, abs=0.5)


def test_shared_inputs_are_drawn_once_and_seed_reproduces():
    a = MCInputs(Spread.of([100.0, 110.0, 120.0]), Spread.exact(10.0), GRID, PUE, LIFE, FOOT, 16)
    b = MCInputs(Spread.of([200.0, 210.0, 220.0]), Spread.exact(10.0), GRID, PUE, LIFE, FOOT, 16)
    x = simulate([a, b], Draws(2_000, 3))
    y = simulate([a, b], Draws(2_000, 3))
    assert np.array_equal(x, y)
    # the same grid, PUE, lifetime and footprint draws for both: A's energy stays <= 134.8 J and
    # B's >= 185.2 J (their run intervals), so A < B in every draw; independent draws of the
    # shared inputs would let a low-grid B beat a high-grid A
    assert prob_less(x[0], x[1]) == 1.0
    same = simulate([a, a], Draws(1_000, 1))
    assert 0.3 < prob_less(same[0], same[1]) < 0.7  # own energy draws per run


@pytest.mark.parametrize("samples,seed", [(0, 1), (-5, 1), (10, -1), (True, 1), (1.5, 1)])
def test_bad_samples_or_seed(samples, seed):
    with pytest.raises(InvalidValueError):
        check_samples_seed(samples, seed)


@pytest.mark.parametrize("df", [1.0, 2.0, 5.0])
def test_student_t_draws_match_the_quantiles(df):
    """The closed forms (df 1, 2) and the general sampler give Student's t: the 97.5 % quantile
    of the draws matches t(0.975, df) of inferlca.stats (12.706, 4.303, 2.571)."""
    from inferlca.lca.montecarlo import student_t_draws
    from inferlca.stats import t_quantile

    x = student_t_draws(np.random.default_rng(5), df, (1, 400_000))[0]
    assert np.quantile(x, 0.975) == pytest.approx(t_quantile(0.975, int(df)), rel=0.03)
    assert np.median(x) == pytest.approx(0.0, abs=0.01)


def test_impact_cli_samples(cli):
    """`impact --samples`: median and percentiles inside the interval of the same command, per
    query = total / queries, the same seed gives the same numbers; bad numbers exit 2."""
    args = ("impact", "--device", "t4", "--energy-wh", "1..1.2", "--duration-s", "10",
            "--queries", "4", "--samples", "20000", "--seed", "3", "--json")
    r = cli(*args)
    assert r.code == 0, r.err
    d = r.json()
    mc, tot = d["monte_carlo"], d["total_gco2e"]
    assert tot["low"] <= mc["total"]["p2_5"] <= mc["total"]["median"] <= mc["total"]["p97_5"] \
        <= tot["high"]
    assert mc["per_query"]["median"] == pytest.approx(mc["total"]["median"] / 4)
    assert cli(*args).json()["monte_carlo"] == mc
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10", "--samples", "0")
    assert r.code == 2 and "--samples" in r.err and "Traceback" not in r.err
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10", "--samples",
            "10", "--seed", "-1")
    assert r.code == 2 and "--seed" in r.err
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10", "--samples", "50")
    assert r.code == 0 and "(p2.5" in r.out


def _keyed(key, energies, durations, grid=GRID, queries=16):
    return MCInputs(Spread.of(energies), Spread.of(durations), grid, PUE, LIFE, FOOT, queries,
                    key)


BATCH = [  # 3, 2, 4 and 1 repetitions, a given energy interval, two grids
    _keyed("run-a", [100.0, 110.0, 120.0], [10.0, 10.5, 11.0]),
    _keyed("run-b", [200.0, 230.0], [20.0, 19.0], grid=UValue(56.0, 44.18, 80.08)),
    _keyed("run-c", [50.0, 52.0, 51.0, 49.5], [5.0, 5.1, 5.2, 4.9], queries=None),
    _keyed("run-d", [70.0], [7.0]),
    MCInputs(UValue(3600.0, 3000.0, 4000.0), Spread.exact(10.0), GRID, PUE, LIFE, FOOT, 4,
             "run-e"),
]


@pytest.mark.parametrize("seed", [0, 11])
def test_batch_equals_the_one_run_path(seed):
    """The vectorised path over many runs gives each run exactly the draws and the summary it
    gets alone (``results show ID --samples N --seed S``): every quantity has its own stream."""
    from inferlca.lca.montecarlo import simulate_summary

    x = simulate(BATCH, Draws(3_000, seed))
    s = simulate_summary(BATCH, Draws(3_000, seed), chunk=2)
    for k, inp in enumerate(BATCH):
        alone = simulate([inp], Draws(3_000, seed))[0]
        assert np.array_equal(x[k], alone)
        one = summarize(alone)
        assert all(s[name][k] == one[name] for name in one if name != "samples")
    assert np.array_equal(simulate(BATCH[::-1], Draws(3_000, seed))[::-1], x)  # order-free
    assert not np.array_equal(simulate(BATCH, Draws(3_000, seed + 1)), x)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3_000), st.lists(st.floats(0.0, 100.0), min_size=1, max_size=8),
       st.integers(0, 2**31))
def test_percentiles_equal_numpy(n, ps, seed):
    """One partition instead of np.percentile: the same numbers (linear interpolation), rows
    and a single row alike; the input is left alone unless ``overwrite``."""
    from inferlca.lca.montecarlo import percentiles

    x = np.random.default_rng(seed).standard_normal((3, n))
    x[0, : n // 2] = 1.0  # ties
    before = x.copy()
    assert np.array_equal(percentiles(x, ps), np.percentile(x, ps, axis=-1))
    assert np.array_equal(percentiles(x[1], ps), np.percentile(x[1], ps))
    assert np.array_equal(x, before)
    assert np.array_equal(percentiles(x.copy(), ps, overwrite=True), np.percentile(x, ps, axis=-1))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1e6), min_size=1, max_size=8))
def test_spread_bounds_are_the_run_interval_rule(values):
    """Spread.of computes the run interval directly: the numbers of
    ``stats.combine_intervals`` on the repetitions as exact intervals."""
    from inferlca.stats import combine_intervals

    sp = Spread.of(values)
    rule = combine_intervals([{"value": v, "low": v, "high": v} for v in values])
    assert (sp.mean, sp.low, sp.high) == (rule["value"], rule["low"], rule["high"])


@pytest.mark.parametrize("reps", [[100.0, 110.0], [100.0, 110.0, 125.0],
                                  [100.0, 104.0, 111.0, 118.0, 120.0]])
def test_draws_follow_numpys_reference_samplers(reps):
    """In distribution, the keyed streams give what numpy's own samplers give on the same
    inputs (``rng.triangular``, ``rng.standard_t`` clipped to the run interval): quantiles
    agree within sampling error (200,000 draws each: within 1.5 %; a t scaled by 1/sqrt(2), or a
    triangular with a wrong mode, moves them by several %)."""
    n = 200_000
    grid = UValue(79.1, 44.18, 80.08)
    inp = MCInputs(Spread.of(reps), Spread.exact(1.0), grid, UValue.exact(1.0),
                   UValue.exact(1.0), UValue.exact(0.0), None, "k")
    x = simulate([inp], Draws(n, 5))[0]
    rng = np.random.default_rng(9)
    sp = inp.energy_j
    e = np.clip(sp.mean + sp.std / np.sqrt(sp.n) * rng.standard_t(sp.n - 1, n), sp.low, sp.high)
    ref = e / 3.6e6 * rng.triangular(grid.low, grid.value, grid.high, n)
    qs = [1, 5, 25, 50, 75, 95, 99]
    assert np.percentile(x, qs) == pytest.approx(np.percentile(ref, qs), rel=0.015)


def test_exact_inputs_give_the_exact_value():
    """No uncertainty at all: every draw is the interval arithmetic's value (no stray draws)."""
    inp = MCInputs(Spread.exact(7200.0), Spread.exact(20.0), UValue.exact(50.0),
                   UValue.exact(1.2), UValue.exact(5.0), UValue.exact(100.0), 2, "x")
    x = simulate([inp, _inputs()], Draws(1_000, 0))[0]
    assert np.all(x == x[0]) and x[0] == pytest.approx(inp.interval_total_g().value, rel=1e-12)
