"""Per-session configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """One FIX session this acceptor will accept.

    `sender_comp_id` is the exchange (SenderCompID of what we send), `target_comp_id`
    the client. `username`/`password` None = not checked. `heartbeat_min`/`heartbeat_max`
    bound the client's HeartBtInt(108); 0 in a Logon (no heartbeats) is accepted only
    if `heartbeat_min` is 0. `on_behalf_of_comp_ids`: the OnBehalfOfCompID(115) values this
    client may send for (third-party addressing, test case 18); empty = none, so a message
    carrying 115 is rejected. `deliver_to_comp_ids`: the DeliverToCompID(128) values it may
    address (firms reached through the exchange; answers come back with OnBehalfOfCompID);
    empty = none, so a message carrying 128 is rejected.

    Limits (0 = off): `max_message_rate` inbound messages a second over all message types
    (`message_burst` saved up), `max_order_rate` for order entry (NewOrderSingle, cancel,
    replace, mass cancel; `order_burst` saved up).  A message over a limit is refused (its
    number consumed, nothing executed); more than `throttle_logout_rejects` refusals, a count
    that decays by a tenth of itself a second (so: a burst that large, or a tenth of it a
    second for ten seconds), end the session with a Logout (0 = never).
    `max_queued_bytes` and `max_queued_messages` bound the messages held ahead of a
    sequence gap (while a ResendRequest is outstanding; past them the peer is misbehaving).
    """

    sender_comp_id: str
    target_comp_id: str
    begin_string: str = "FIX.4.4"
    username: str | None = None
    password: str | None = None
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    heartbeat_min: int = 1
    heartbeat_max: int = 300
    sending_time_tolerance: float = 120.0
    logon_timeout: float = 10.0
    logout_timeout: float = 2.0
    on_behalf_of_comp_ids: tuple[str, ...] = ()
    deliver_to_comp_ids: tuple[str, ...] = ()
    max_message_rate: float = 0.0
    message_burst: int = 0
    max_order_rate: float = 0.0
    order_burst: int = 0
    throttle_logout_rejects: int = 200
    max_queued_bytes: int = 4 * 1024 * 1024
    max_queued_messages: int = 10_000

    @property
    def session_id(self) -> str:
        return f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"
