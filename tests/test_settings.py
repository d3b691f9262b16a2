"""Shared settings (issue 19 part 4): argument > environment > config file > defaults, the
config file's errors, `inferlca config show`, the settings as the commands' option defaults."""

from __future__ import annotations

import json

import pytest

from inferlca import settings
from inferlca.cli import run as cli
from inferlca.errors import InputFileError, UnknownNameError


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """An empty working directory and user config dir, no INFERLCA_* variables."""
    for var in [v for v in __import__("os").environ if v.startswith("INFERLCA_")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_precedence_argument_environment_file_default(home, monkeypatch):
    (home / "inferlca.toml").write_text('region = "DE"\npue = "1.1..1.3"\nmeter = "rapl"\n')
    monkeypatch.setenv("INFERLCA_METER", "modelled")
    monkeypatch.setenv("INFERLCA_PERIOD", "0.05")
    r = settings.resolve({"meter": "nvml", "region": None})
    assert (r["meter"].value, r["meter"].origin) == ("nvml", "argument")
    assert (r["period"].value, r["period"].origin, r["period"].where) == (
        0.05, "environment", "INFERLCA_PERIOD")
    assert (r["region"].value, r["region"].origin) == ("DE", "file")
    assert r["pue"].value == "1.1..1.3"
    assert (r["grid"].value, r["grid"].origin) == (None, "default")
    r2 = settings.resolve()
    assert (r2["meter"].value, r2["meter"].origin) == ("modelled", "environment")


def test_user_config_dir_and_explicit_file(home, monkeypatch):
    user = home / "xdg" / "inferlca"
    user.mkdir(parents=True)
    (user / "inferlca.toml").write_text('[inferlca]\nregion = "SE"\n')
    assert settings.resolve()["region"].value == "SE"
    (home / "inferlca.toml").write_text('region = "PL"\n')  # the working directory's comes first
    assert settings.resolve()["region"].value == "PL"
    other = home / "other.toml"
    other.write_text('region = "NO"\n')
    assert settings.resolve(config=other)["region"].value == "NO"
    monkeypatch.setenv("INFERLCA_CONFIG", str(other))
    assert settings.resolve()["region"].where == str(other)
    with pytest.raises(InputFileError, match="not found"):
        settings.resolve(config=home / "missing.toml")


def test_unknown_key_names_the_closest_valid_one(home):
    (home / "inferlca.toml").write_text('region = "DE"\nlifetim = 5\n')
    with pytest.raises(UnknownNameError) as exc:
        settings.resolve()
    assert "'lifetim'" in str(exc.value) and "did you mean 'lifetime'" in str(exc.value)


def test_malformed_file_names_the_line(home):
    (home / "inferlca.toml").write_text('region = "DE"\n\npue = = 1\n')
    with pytest.raises(InputFileError) as exc:
        settings.resolve()
    assert exc.value.line == 3 and "line 3" in str(exc.value)
    (home / "inferlca.toml").write_text('region = "DE"\npue = [1, 2]\n')
    with pytest.raises(InputFileError, match="line 2"):
        settings.resolve()


def test_config_show_reports_origins(home, monkeypatch, capsys):
    (home / "inferlca.toml").write_text('region = "DE"\n')
    monkeypatch.setenv("INFERLCA_STORE", str(home / "x.db"))
    assert cli(["config", "show", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["region"] == {"value": "DE", "origin": "file",
                           "where": str(home / "inferlca.toml")}
    assert d["store"]["origin"] == "environment" and d["store"]["where"] == "INFERLCA_STORE"
    assert d["pue"] == {"value": None, "origin": "default", "where": None}
    assert cli(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "region" in out and "file (" in out and "environment (INFERLCA_STORE)" in out


def test_cli_config_errors_exit_2(home, capsys):
    (home / "bad.toml").write_text('scpoe = "card"\n')
    assert cli(["--config", str(home / "bad.toml"), "config", "show"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "did you mean 'scope'" in err and "Traceback" not in err
    (home / "broken.toml").write_text('region = "DE\n')
    assert cli(["--config", str(home / "broken.toml"), "grid", "list"]) == 2
    assert "line 1" in capsys.readouterr().err


def test_file_and_environment_feed_command_defaults_and_flags_win(home, monkeypatch, capsys):
    def use_gco2e(*extra):
        code = cli(["impact", "--device", "AGX Orin", "--energy-wh", "1", "--duration-s", "60",
                    "--pue", "1.0", "--json", *extra])
        assert code == 0
        return json.loads(capsys.readouterr().out)["use_gco2e"]["value"]

    fr = use_gco2e("--region", "FR")
    de = use_gco2e("--region", "DE")
    assert fr != de
    (home / "inferlca.toml").write_text('region = "DE"\n')
    assert use_gco2e() == pytest.approx(de)              # file
    monkeypatch.setenv("INFERLCA_REGION", "FR")
    assert use_gco2e() == pytest.approx(fr)              # environment over file
    assert use_gco2e("--region", "DE") == pytest.approx(de)  # argument over environment


def test_period_setting_is_seconds_and_device_only_where_it_means_the_device(home):
    import typer

    import inferlca.cli as cli_package
    from inferlca.cli._settings import default_map

    cli_package._load_commands()  # every command module
    root = typer.main.get_command(cli_package.app)
    resolved = settings.resolve({"period": 0.05, "device": "AGX Orin", "store": "s.db"})
    dm = default_map(root, resolved)
    assert dm["measure"]["period_ms"] == pytest.approx(50.0)
    assert dm["measure"]["device"] == "AGX Orin"
    assert "device" not in dm.get("results", {})  # there --device filters the stored runs
    assert dm["results"]["store"] == "s.db"
    assert "store_path" not in dm.get("estimate", {})  # there a store means "calibrate on it"


def test_warnings_of_our_code_are_one_line_on_the_command_line(monkeypatch):
    """Regression: a run whose meter agent went away printed Python's warning form, the source
    path and line of ``sampler.py`` and then the code line, before the run's table."""
    import warnings
    from pathlib import Path

    import inferlca
    from inferlca.cli._settings import setup_logging

    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)
    setup_logging(0, False)
    setup_logging(0, False)  # once per command: not wrapped twice
    ours = str(Path(inferlca.__file__).parent / "meters" / "sampler.py")
    msg = "meter 'remote:modelled': 2 of 551 reads failed; recorded as 1 gap(s), not zeros"
    assert warnings.formatwarning(msg, RuntimeWarning, ours, 116, "self.stop()") == \
        f"warning: {msg}\n"
    theirs = warnings.formatwarning("x", UserWarning, "/elsewhere/mod.py", 3, "y()")
    assert theirs.startswith("/elsewhere/mod.py:3: UserWarning: x")
