"""FIX 4.4 session layer, acceptor side (sans-IO): see docs/DESIGN.md section 2."""

from .acceptor import Acceptor, Connection, State
from .config import SessionConfig
from .events import (ApplicationMessage, Disconnected, Event, GarbledMessage, LoggedOn, LoggedOut,
                     SessionRejected)
from .store import MemoryStore, MessageStore, StoreCorrupted

__all__ = [
    "Acceptor", "Connection", "State", "SessionConfig",
    "ApplicationMessage", "Disconnected", "Event", "GarbledMessage", "LoggedOn", "LoggedOut",
    "SessionRejected",
    "MemoryStore", "MessageStore", "StoreCorrupted",
]
