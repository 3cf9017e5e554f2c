"""fixexchange.gateway: FIX 4.4 application messages <-> engine commands and events (sans-IO).

``Gateway(symbols, engine, exec_id_prefix=None, stp_modes=None, default_stp=StpMode.NONE,
min_price_increment_field=False, extensions=None, default_extensions=())``:
``on_message(session_id, message, now)``, ``on_logon``, ``on_disconnect``, ``snapshot_for``,
``advance_time``, ``end_of_day``, ``apply`` -> ``list[Outbound]``.  See ``gateway.py`` for the
reject policy and ``marketdata.py`` for the market-data model.

The parts of ``Gateway`` (mixins, one module each): ``orders.py`` (D, F, G, H, q -> engine
commands), ``reports.py`` (ExecutionReports and rejects, engine events -> FIX),
``market_data_requests.py`` (V), ``securities.py`` (x, e); ``common.py`` holds what they
share (field values, reject codes, the order record).
"""

from .gateway import EXTENSIONS, Gateway
from .marketdata import TRADE_HISTORY
from .outbound import Outbound

__all__ = ["EXTENSIONS", "Gateway", "Outbound", "TRADE_HISTORY"]
