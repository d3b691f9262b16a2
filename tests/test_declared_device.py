"""`--device` naming hardware this machine does not have: the run says so, stores what was
detected, and calibration does not take this machine's timings for the declared device."""

from __future__ import annotations


def test_declared_device_elsewhere_is_recorded_and_skipped_by_calibration(tmp_path, cli,
                                                                           run_and_read):
    store = tmp_path / "s.db"
    run = run_and_read("-w", "bert-base-squad", "--preset", "tiny", "--backend", "torch", "-n", "2",
                       "-r", "1", "--device", "t4", store=store).record
    hw = run.environment["hardware_detected"]
    # this machine has no T4 (no GPU at all here): what it detected is stored beside the T4
    assert hw["declared_elsewhere"] is True and hw["id"] != "t4" and hw["name"]
    assert any("--device 't4' declares" in n for n in run.summary["notes"])
    cal = cli("calibrate", "--store", store, "--json")
    assert cal.code == 0
    skipped = cal.json()["skipped"]
    assert any("declared with --device but ran on" in s for s in skipped)


def test_a_declared_cpu_on_an_unknown_cpu_is_taken_at_its_word():
    # a VM reports a generic "Intel(R) Xeon(R) Processor": declaring the catalog Xeon is the
    # intended use (embodied impact needs it), declaring a GPU or a Jetson is not believable
    from inferlca.hardware.catalog import get_catalog
    from inferlca.hardware.resolve import ResolvedDevice

    cat = get_catalog()
    xeon, t4, orin = (cat.get(d) for d in ("xeon-platinum-8480plus", "t4", "jetson-agx-orin-64gb"))
    generic = {"detected_name": "Intel(R) Xeon(R) Processor", "detected_id": None,
               "detected_source": "cpuinfo"}
    assert not ResolvedDevice(xeon.name, xeon, "declared", **generic).declared_elsewhere
    assert ResolvedDevice(t4.name, t4, "declared", **generic).declared_elsewhere
    assert ResolvedDevice(orin.name, orin, "declared", **generic).declared_elsewhere
    # detection that found a catalog device settles it by id
    on_orin = {"detected_name": "Jetson AGX Orin", "detected_id": orin.id,
               "detected_source": "device-tree"}
    assert not ResolvedDevice(orin.name, orin, "declared", **on_orin).declared_elsewhere
    assert ResolvedDevice(t4.name, t4, "declared", **on_orin).declared_elsewhere
    # detection alone (no --device) is never "elsewhere"
    assert not ResolvedDevice("Intel(R) Xeon(R) Processor", None, "/proc/cpuinfo").declared_elsewhere
