import subprocess
import sys

import pytest

from friedel.cli.main import main


def test_show_prints_models_and_columns(real_data, in_tmp_dir, capsys):
    rc = main(["show", str(real_data / "integrated/centroid/integrated.expt"),
               str(real_data / "spots/centroid/strong.refl")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "space group P 4 2 2" in out and "42.2717" in out
    assert "654 reflections" in out and "flags: strong 654" in out
    assert (in_tmp_dir / "friedel.show.log").read_text().count("654 reflections") == 1


def test_user_errors_are_one_line_with_nonzero_exit(in_tmp_dir, capsys):
    assert main(["show", "missing.expt"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["friedel show: error: input file missing.expt does not exist"]
    assert main(["show", "nonsense_param=3", "x.expt"]) == 1
    assert "unknown parameter 'nonsense_param'" in capsys.readouterr().err
    assert main(["shwo"]) == 2
    assert "Did you mean: show" in capsys.readouterr().err


def test_debug_shows_traceback(in_tmp_dir, capsys):
    main(["show", "missing.expt", "--debug"])
    assert "Traceback" in capsys.readouterr().err


def test_help_version_and_config(capsys):
    assert main(["--version"]) == 0 and "friedel 0.1.0" in capsys.readouterr().out
    assert main(["show", "--help"]) == 0 and "usage: friedel show" in capsys.readouterr().out
    assert main(["show", "-c", "-e", "1"]) == 0
    assert "max_columns_stats = 60" in capsys.readouterr().out
    assert main([]) == 0 and "commands:" in capsys.readouterr().out


def test_modified_parameters_are_logged(real_data, in_tmp_dir, capsys):
    assert main(["show", "show_panels=True", str(real_data / "spots/centroid/imported.expt")]) == 0
    out = capsys.readouterr().out
    assert "The following parameters have been modified:\nshow_panels = True" in out
    log = (in_tmp_dir / "friedel.show.log").read_text()
    assert "Effective parameters:" in log and "max_columns_stats = 60" in log


def test_console_script_and_alias(real_data, in_tmp_dir):
    import shutil

    exe = shutil.which("friedel.show")
    if exe is None:
        pytest.skip("friedel is not installed as a console script in this environment")
    result = subprocess.run([exe, str(real_data / "spots/centroid/imported.expt")], capture_output=True, text=True)
    assert result.returncode == 0 and "2463x2527" in result.stdout
    result = subprocess.run([sys.executable, "-m", "friedel.cli", "plugins"], capture_output=True, text=True)
    assert result.returncode == 0 and "core_commands" in result.stdout
