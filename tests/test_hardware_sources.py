"""Every catalog row names its sources and their quality; press and wiki sources are flagged."""

from __future__ import annotations

import csv
import io
import re
from importlib import resources

import pytest

from inferlca.hardware.catalog import (
    SOURCE_QUALITIES,
    get_catalog,
    source_citations,
    source_quality_of,
    weakest_quality,
)

SRC_COLS = ("src_specs", "src_die", "src_memory", "src_perf")


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("inferlca.hardware").joinpath("data").joinpath(name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _keys(row: dict[str, str]) -> set[str]:
    return {k.strip() for c in SRC_COLS for k in (row.get(c) or "").split(";") if k.strip()}


def test_weakest_quality_orders_primary_secondary_press():
    assert weakest_quality(["primary", "secondary"]) == "secondary"
    assert weakest_quality(["primary", "press", "secondary"]) == "press"
    assert weakest_quality(["primary"]) == "primary"
    assert weakest_quality([]) == "press"  # nothing cited counts as the weakest


def test_every_source_key_has_a_quality():
    rows = _rows("sources.csv")
    assert rows and all(r["quality"] in SOURCE_QUALITIES for r in rows), [
        r["key"] for r in rows if r["quality"] not in SOURCE_QUALITIES]


def test_every_row_has_a_source_and_its_weakest_quality():
    quality = source_quality_of()
    for row in _rows("devices.csv"):
        keys = _keys(row)
        assert keys, row["id"]
        assert row["source_quality"] in SOURCE_QUALITIES, row["id"]
        # the stored quality is the weakest of the sources the row cites (it cannot drift)
        assert row["source_quality"] == weakest_quality(quality[k] for k in keys), row["id"]


# a citation naming a wiki, a forum or a news site is never graded above press
_PRESS = re.compile(r"wiki|forum|grokipedia|wccftech|tomshardware|anandtech|techpowerup\.com/"
                    r"|cnx-software|gsmarena|gizchina|mactech|spheron|glennklockwood|hwlegend"
                    r"|computerbase|hardwareluxx|extremetech|eenewseurope|circuitdigest|diit\.cz",
                    re.IGNORECASE)


def test_wiki_forum_and_news_sources_are_flagged_press():
    cites = source_citations()
    quality = source_quality_of()
    flagged = {k for k, c in cites.items() if _PRESS.search(c)}
    assert {"wikichip-genoa", "m3-specs", "gh200-specs", "atforum-apple"} <= flagged
    assert {k: quality[k] for k in flagged if quality[k] != "press"} == {}
    # hence no row citing one of them is shown better than press
    for d in get_catalog():
        row_keys = {k for k, c in cites.items() if any(c in s for s in d.sources.values())}
        if row_keys & flagged:
            assert d.source_quality == "press", d.id


@pytest.mark.parametrize(("device", "field", "value", "needle"), [
    # values a primary source gave (filled in or now cited from it): each appears in its citation
    ("epyc-9654", "tdp_w", 360.0, "default TDP 360 W"),
    ("epyc-9654", "bandwidth_gbs", 460.8, "460.80 GB/s per socket"),
    ("ryzen-7-7840u", "tdp_w", 28.0, "default TDP 28 W"),
    ("xeon-platinum-8480plus", "tdp_w", 350.0, "Max TDP 350 W"),
    ("core-i9-13900k", "tdp_w", 125.0, "Processor Base Power 125 W"),
    ("raspberry-pi-5-8gb", "process_node_nm", 16.0, "the 16nm application processor"),
    ("coral-edge-tpu", "tdp_w", 2.0, "using only 2 watts"),
    ("gh200-96gb", "memory_gb", 96.0, "96 GB HBM3"),
    ("gb200-gpu", "memory_gb", 186.0, "186 GB HBM3e"),
])
def test_primary_values_appear_in_their_citation(device, field, value, needle):
    d = get_catalog().get(device)
    assert getattr(d, field) == pytest.approx(value)
    assert any(needle in s for s in d.sources.values()), (device, needle)


def test_group_qualities_follow_the_groups_sources():
    d = get_catalog().get("epyc-9654")
    # memory comes from AMD's own specification export; the die areas from press die-shot reports
    assert d.source_qualities == {"specs": "press", "die": "press", "memory": "primary"}
    assert d.source_quality == "press"
    assert get_catalog().get("a100-sxm4-40gb").source_quality == "secondary"


def test_hardware_show_displays_the_quality(cli):
    r = cli("hardware", "show", "raspberry-pi-5-8gb")
    assert r.code == 0, r.err
    assert "source quality" in r.out and "press" in r.out
    assert "source: die (primary)" in r.out
    j = cli("hardware", "show", "raspberry-pi-5-8gb", "--json").json()
    assert j["source_quality"] == "press"
    assert j["source_qualities"]["die"] == "primary"
