"""Every conformance script against the sans-IO session with a fake clock."""

import pytest

from .runner import all_scripts, load_script, machine_transport_for, run_script

SCRIPTS = all_scripts()


def test_there_is_a_script_per_test_case_family():
    numbers = {path.name.split("_")[0] for path in SCRIPTS}
    assert {"01S", "02", "03", "04", "05", "06", "07", "08", "10", "11", "12", "13", "15", "16",
            "19", "20"} <= numbers


@pytest.mark.parametrize("path", SCRIPTS, ids=[path.stem for path in SCRIPTS])
def test_script(path):
    script = load_script(path)
    run_script(script, machine_transport_for(script))
