"""The runner itself: a script that should fail does fail (the suite cannot pass vacuously)."""

import pytest

from .runner import ScriptFailure, build_raw, machine_transport_for, parse_script, run_script

LOGON = "* connect\n> 35=A|34=1|98=0|108=30\n"


def run(text):
    script = parse_script(text)
    run_script(script, machine_transport_for(script))


@pytest.mark.parametrize("text,complaint", [
    (LOGON + "< 35=A|34=1|98=0|108=31\n", "expected '35=A"),
    (LOGON + "< 35=A|34=1|98=0\n", "received"),  # a field the script did not list
    (LOGON + "< 35=A|34=1|98=0|108=30|141=Y\n", "received"),  # a field that is missing
    (LOGON + "< 35=A|34=1|98=0|108=30\n! disconnect\n", "expected a disconnect, got nothing"),
    (LOGON + "< 35=A|34=1|98=0|108=30\n~ 30\n! silent\n", "expected silence"),
    (LOGON + "< 35=A|34=1|98=0|108=30\n< 35=0|34=2\n", "nothing was sent"),
    ("* connect\n> 35=0|34=1\n< 35=A|34=1\n", "the exchange disconnected"),
    (LOGON + "< 35=A|34=1|98=0|108=30|52=20000101-00:00:00.000\n", "received"),
    (LOGON + "< 35=A|34=1|98=0|108=30\n> 35=D|34=2|11=X|55=S|54=1|60=<TIME>|38=1|40=1\n"
             "? app 35=D|11=Y\n", "delivered"),
    (LOGON + "< 35=A|34=1|98=0|108=30\n? app 35=D\n", "none was"),
    (LOGON + "< 35=A|34=1|98=0|108=30\n> 35=D|34=2|11=X|55=S|54=1|60=<TIME>|38=1|40=1\n? no-app\n",
     "nothing should be delivered"),
])
def test_mismatches_fail(text, complaint):
    with pytest.raises(ScriptFailure, match=complaint):
        run(text)


def test_placeholders_any_and_time_match():
    run(LOGON + "< 35=A|34=<ANY>|52=<TIME>|98=0|108=30\n")


@pytest.mark.parametrize("text", ["what is this\n", "= sessions x=1\n", "* dance\n", "! maybe\n",
                                  "? who\n", "> 35=A|notafield\n", "+ 34=1|35=8\n"])
def test_malformed_scripts_are_errors_not_passes(text):
    with pytest.raises(ValueError):
        run(text)


def test_session_overrides_are_typed():
    script = parse_script("= session reset_on_logon=true heartbeat_max=60 username=none "
                          "sending_time_tolerance=1.5 password=pw\n")
    assert script.session_overrides == {"reset_on_logon": True, "heartbeat_max": 60, "username": None,
                                        "sending_time_tolerance": 1.5, "password": "pw"}
    assert script.requirements == {"session_config"}


def test_raw_lines_get_computed_length_and_checksum():
    data = build_raw("8=FIX.4.4|9=<LEN>|35=0|34=2|10=<SUM>|", 0.0)
    assert data == b"8=FIX.4.4\x019=10\x0135=0\x0134=2\x0110=%03d\x01" % (
        sum(b"8=FIX.4.4\x019=10\x0135=0\x0134=2\x01") % 256)


def test_time_placeholders_match_within_the_transport_slack():
    from fixexchange.codec import FixParser, encode, format_utc_timestamp

    from .runner import START_TIME, check_expectation
    stamp = format_utc_timestamp(START_TIME + 1.5)
    [message] = FixParser().feed(encode(b"FIX.4.4", b"0", [(49, "EXCH"), (56, "CLIENT"), (34, 2),
                                                            (52, stamp), (122, stamp)]))
    check_expectation("35=0|34=2|122=<TIME>", message, START_TIME + 1.5, "here")  # exact
    check_expectation("35=0|34=2|122=<TIME>", message, START_TIME, "here", time_slack=2.0)
    with pytest.raises(ScriptFailure, match="expected"):
        check_expectation("35=0|34=2|122=<TIME>", message, START_TIME, "here")
    with pytest.raises(ScriptFailure, match="expected"):
        check_expectation("35=0|34=2|122=<TIME-5>", message, START_TIME + 1.5, "here", time_slack=2.0)


def test_id_list_overrides_and_reset_step():
    script = parse_script("= session on_behalf_of_comp_ids=A,B\n* reset-seq 5 1\n")
    assert script.session_overrides == {"on_behalf_of_comp_ids": ("A", "B")}
    assert script.requirements == {"session_config", "sequence_reset"}
    with pytest.raises(ValueError, match="reset-seq N"):
        run("* connect\n* reset-seq\n")
