"""The FIX vocabulary: tag numbers and the field values fixexchange reads or writes.

Tag numbers are module-level ints named as in the FIX 4.4 spec (``tags.MsgSeqNum == 34``):
made at import from the generated field table (``_field_types``), so each has one home,
plus the three extension tags below. Field VALUES are constants in plural-named classes,
bytes as on the wire (``tags.MsgTypes.NEW_ORDER_SINGLE == b"D"``, ``tags.Sides.BUY == b"1"``)
except the codes the exchange formats as numbers (SessionRejectReason, OrdRejReason,
CxlRejReason, BusinessRejectReason, ExecRestatementReason, LastLiquidityInd), which are ints
(``tags.RejectReasons.REQUIRED_TAG_MISSING == 1``). tests/codec/test_tags.py checks every
value against the data dictionary's enumerations.

Hot paths bind what they use at import (``from fixexchange.codec.tags import ClOrdID``,
module tuples, prebuilt fields from ``encoder.encoded_field``): no lookup per message.
"""

from ._field_types import FIELD_TYPES

globals().update({name: tag for tag, (name, _) in FIELD_TYPES.items()})

# Beyond FIX 4.4 (each used only with a session that opts into it):
MinPriceIncrement = 969  # FIX 5.0, in a SecurityList (the "min_price_increment" extension)
AggressorSide = 2446  # FIX 5.0 SP2, on market-data trade entries (the "aggressor_side" extension)
CancelOnDisconnect = 9001  # Y/N in a Logon: a venue convention (Deribit), see README "Operating"


class MsgTypes:
    HEARTBEAT = b"0"
    TEST_REQUEST = b"1"
    RESEND_REQUEST = b"2"
    REJECT = b"3"
    SEQUENCE_RESET = b"4"
    LOGOUT = b"5"
    LOGON = b"A"
    EXECUTION_REPORT = b"8"
    ORDER_CANCEL_REJECT = b"9"
    NEW_ORDER_SINGLE = b"D"
    ORDER_CANCEL_REQUEST = b"F"
    ORDER_CANCEL_REPLACE_REQUEST = b"G"
    ORDER_STATUS_REQUEST = b"H"
    BUSINESS_MESSAGE_REJECT = b"j"
    ORDER_MASS_CANCEL_REQUEST = b"q"
    ORDER_MASS_CANCEL_REPORT = b"r"
    NEW_ORDER_CROSS = b"s"
    CROSS_ORDER_CANCEL_REQUEST = b"u"
    MARKET_DATA_REQUEST = b"V"
    MARKET_DATA_SNAPSHOT_FULL_REFRESH = b"W"
    MARKET_DATA_INCREMENTAL_REFRESH = b"X"
    MARKET_DATA_REQUEST_REJECT = b"Y"
    SECURITY_LIST_REQUEST = b"x"
    SECURITY_LIST = b"y"
    SECURITY_STATUS_REQUEST = b"e"
    SECURITY_STATUS = b"f"


class RejectReasons:
    """SessionRejectReason(373) codes."""
    INVALID_TAG_NUMBER = 0
    REQUIRED_TAG_MISSING = 1
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE = 2
    UNDEFINED_TAG = 3
    TAG_SPECIFIED_WITHOUT_VALUE = 4
    VALUE_INCORRECT = 5
    INCORRECT_DATA_FORMAT = 6
    DECRYPTION_PROBLEM = 7
    SIGNATURE_PROBLEM = 8
    COMPID_PROBLEM = 9
    SENDING_TIME_ACCURACY_PROBLEM = 10
    INVALID_MSG_TYPE = 11
    XML_VALIDATION_ERROR = 12
    TAG_APPEARS_MORE_THAN_ONCE = 13
    TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER = 14
    REPEATING_GROUP_FIELDS_OUT_OF_ORDER = 15
    INCORRECT_NUM_IN_GROUP_COUNT = 16
    NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER = 17
    OTHER = 99


class Sides:
    BUY = b"1"
    SELL = b"2"


class OrdTypes:
    MARKET = b"1"
    LIMIT = b"2"
    STOP = b"3"
    STOP_LIMIT = b"4"


class TimeInForces:
    DAY = b"0"
    GOOD_TILL_CANCEL = b"1"
    IMMEDIATE_OR_CANCEL = b"3"
    FILL_OR_KILL = b"4"
    GOOD_TILL_DATE = b"6"


class ExecInsts:
    PARTICIPATE_DO_NOT_INITIATE = b"6"  # post-only


class ExecTypes:
    NEW = b"0"
    CANCELED = b"4"
    REPLACED = b"5"
    REJECTED = b"8"
    EXPIRED = b"C"
    RESTATED = b"D"
    TRADE = b"F"
    ORDER_STATUS = b"I"
    # FIX 5.0's "Triggered or Activated by System": the "exec_type_triggered" extension
    TRIGGERED = b"L"


class OrdStatuses:
    NEW = b"0"
    PARTIALLY_FILLED = b"1"
    FILLED = b"2"
    CANCELED = b"4"
    REJECTED = b"8"
    EXPIRED = b"C"


class ExecRestatementReasons:
    MARKET_OPTION = 8
    OTHER = 99


class LastLiquidityInds:
    ADDED_LIQUIDITY = 1
    REMOVED_LIQUIDITY = 2


class OrdRejReasons:
    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2
    UNKNOWN_ORDER = 5
    DUPLICATE_ORDER = 6
    UNSUPPORTED_ORDER_CHARACTERISTIC = 11
    INCORRECT_QUANTITY = 13
    OTHER = 99


class CxlRejReasons:
    TOO_LATE_TO_CANCEL = 0
    UNKNOWN_ORDER = 1
    BROKER_OPTION = 2  # "Broker / Exchange Option"
    DUPLICATE_CL_ORD_ID = 6
    OTHER = 99


class CxlRejResponseTos:
    ORDER_CANCEL_REQUEST = b"1"
    ORDER_CANCEL_REPLACE_REQUEST = b"2"


class BusinessRejectReasons:
    OTHER = 0
    UNKNOWN_ID = 1
    UNKNOWN_SECURITY = 2
    UNSUPPORTED_MESSAGE_TYPE = 3
    APPLICATION_NOT_AVAILABLE = 4
    CONDITIONALLY_REQUIRED_FIELD_MISSING = 5
    NOT_AUTHORIZED = 6


class MDEntryTypes:
    BID = b"0"
    OFFER = b"1"
    TRADE = b"2"


class SubscriptionRequestTypes:
    SNAPSHOT = b"0"
    SNAPSHOT_PLUS_UPDATES = b"1"
    UNSUBSCRIBE = b"2"


class MDUpdateTypes:
    FULL_REFRESH = b"0"
    INCREMENTAL_REFRESH = b"1"


class MDUpdateActions:
    NEW = b"0"
    CHANGE = b"1"
    DELETE = b"2"


class MDReqRejReasons:
    UNKNOWN_SYMBOL = b"0"
    DUPLICATE_MD_REQ_ID = b"1"
    INSUFFICIENT_BANDWIDTH = b"2"
    UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE = b"4"
    UNSUPPORTED_MARKET_DEPTH = b"5"
    UNSUPPORTED_MD_UPDATE_TYPE = b"6"
    UNSUPPORTED_AGGREGATED_BOOK = b"7"
    UNSUPPORTED_MD_ENTRY_TYPE = b"8"


class MassCancelRequestTypes:
    CANCEL_ORDERS_FOR_A_SECURITY = b"1"
    CANCEL_ALL_ORDERS = b"7"


class MassCancelResponses:
    CANCEL_REQUEST_REJECTED = b"0"


class MassCancelRejectReasons:
    MASS_CANCEL_NOT_SUPPORTED = b"0"
    INVALID_OR_UNKNOWN_SECURITY = b"1"
    OTHER = b"99"


class SecurityListRequestTypes:
    SYMBOL = b"0"
    ALL_SECURITIES = b"4"


class SecurityRequestResults:
    VALID_REQUEST = b"0"
    INVALID_OR_UNSUPPORTED_REQUEST = b"1"
    NO_INSTRUMENTS_FOUND = b"2"


class SecurityTradingStatuses:
    TRADING_HALT = b"2"
    READY_TO_TRADE = b"17"
