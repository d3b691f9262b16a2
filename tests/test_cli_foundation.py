from inferlca.errors import UnknownNameError


def test_version_and_unknown_command(cli):
    r = cli("--version")
    assert r.code == 0 and r.out.startswith("inferlca ")
    r = cli("no-such-command")
    assert r.code == 2 and "No such command" in r.err


def test_unknown_name_suggests():
    e = UnknownNameError("device", "h10", ["h100-sxm", "h100-pcie", "a100-sxm4-40gb"])
    assert "did you mean" in str(e) and "h100" in str(e)
    assert e.exit_code == 2


def test_subprocess_entry_point(cli_subprocess):
    r = cli_subprocess("--version", timeout=120)
    assert r.code == 0 and "inferlca" in r.out
