"""The example bots run against the daemon (in-process, loopback, bounded): the simplefix
market maker quotes, gets filled, cancels on exit; the QuickFIX bot trades and cancels
with zero Rejects, validating with the shipped dictionary (examples/fixexchange.xml, which
must be what `fixexchange dictionary` writes now)."""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from fixexchange.server.dialect import dialect_xml
from server.fixclient import FixClient, start_server

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


def test_the_shipped_dictionary_is_current():
    assert (EXAMPLES / "fixexchange.xml").read_bytes() == dialect_xml(), \
        "run: fixexchange dictionary -o examples/fixexchange.xml"


async def read_until(stream: asyncio.StreamReader, needle: str, seen: list[str], timeout: float = 10) -> None:
    async def scan():
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"no {needle!r} in {seen}")
            seen.append(line)
            if needle in line:
                return
    await asyncio.wait_for(scan(), timeout)


async def test_simplefix_bot_quotes_gets_filled_and_cancels_on_exit():
    srv = await start_server()
    taker = FixClient("C2")
    try:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLES / "simplefix_bot.py"), "--port", str(srv.port), "--sender", "C1",
            "--target", "EX", "--password", "pw", "--symbol", "SYM1", "--duration", "20", "--max-fills", "1",
            env=ENV, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        seen: list[str] = []
        await read_until(bot.stdout, "quote SELL", seen)  # both quotes out (buy first)
        assert any("quote BUY 10 @ 105.01" in line for line in seen), seen
        await taker.logon(srv.port)
        taker.order("hit", "2", 10, None, symbol="SYM1")  # a market sell takes the bot's bid
        try:
            await read_until(bot.stdout, "logged out", seen)
        except AssertionError:
            raise AssertionError(seen, (await bot.stderr.read()).decode()[-2000:])
        assert await asyncio.wait_for(bot.wait(), 10) == 0, await bot.stderr.read()
        text = "".join(seen)
        assert "fill 10 @ 105.01" in text and "quote(s) cancelled" in text, text
        # nothing of the bot's is left on the book
        bids = srv.gateway.market_data.levels("SYM1", 1)
        asks = srv.gateway.market_data.levels("SYM1", 2)
        assert bids[0][0] == 10500 and asks[0][0] == 11000, (bids[:2], asks[:2])
    finally:
        taker.close()
        await srv.stop()


async def test_quickfix_bot_trades_and_cancels_with_zero_rejects():
    pytest.importorskip("quickfix")
    srv = await start_server()
    try:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, str(EXAMPLES / "quickfix_bot.py"), "--port", str(srv.port), "--sender", "C3",
            "--target", "EX", "--password", "pw", env=ENV, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(bot.communicate(), 60)
        text = out.decode()
        assert bot.returncode == 0, text + err.decode()
        assert "SecurityList: 3 symbol(s)" in text and "ExecType=F OrdStatus=2 ClOrdID=take-1" in text, text
        assert "ExecType=4 OrdStatus=4 ClOrdID=cancel-1" in text and "no message from the exchange was rejected" in text
    finally:
        await srv.stop()
