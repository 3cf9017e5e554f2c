"""Named FIX 4.4 constants.

Tag numbers are module-level ints named as in the FIX 4.4 spec (``tags.MsgSeqNum == 34``,
generated into ``_tag_numbers``). Field VALUES are bytes constants grouped in plural-named
classes (``tags.MsgTypes.NEW_ORDER_SINGLE == b"D"``, ``tags.Sides.BUY == b"1"``); the
SessionRejectReason(373) codes are ints (``tags.RejectReasons.REQUIRED_TAG_MISSING == 1``).
"""

from ._tag_numbers import *  # noqa: F401,F403  (every FIX 4.4 tag, 1..956)


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
    MARKET_DATA_REQUEST = b"V"
    MARKET_DATA_SNAPSHOT_FULL_REFRESH = b"W"
    MARKET_DATA_INCREMENTAL_REFRESH = b"X"
    MARKET_DATA_REQUEST_REJECT = b"Y"
    SECURITY_LIST_REQUEST = b"x"
    SECURITY_LIST = b"y"


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


class ExecTypes:
    NEW = b"0"
    DONE_FOR_DAY = b"3"
    CANCELED = b"4"
    REPLACED = b"5"
    PENDING_CANCEL = b"6"
    STOPPED = b"7"
    REJECTED = b"8"
    SUSPENDED = b"9"
    PENDING_NEW = b"A"
    CALCULATED = b"B"
    EXPIRED = b"C"
    RESTATED = b"D"
    PENDING_REPLACE = b"E"
    TRADE = b"F"
    TRADE_CORRECT = b"G"
    TRADE_CANCEL = b"H"
    ORDER_STATUS = b"I"


class OrdStatuses:
    NEW = b"0"
    PARTIALLY_FILLED = b"1"
    FILLED = b"2"
    DONE_FOR_DAY = b"3"
    CANCELED = b"4"
    PENDING_CANCEL = b"6"
    STOPPED = b"7"
    REJECTED = b"8"
    SUSPENDED = b"9"
    PENDING_NEW = b"A"
    CALCULATED = b"B"
    EXPIRED = b"C"
    ACCEPTED_FOR_BIDDING = b"D"
    PENDING_REPLACE = b"E"


class OrdRejReasons:
    BROKER_OPTION = b"0"
    UNKNOWN_SYMBOL = b"1"
    EXCHANGE_CLOSED = b"2"
    ORDER_EXCEEDS_LIMIT = b"3"
    TOO_LATE_TO_ENTER = b"4"
    UNKNOWN_ORDER = b"5"
    DUPLICATE_ORDER = b"6"
    STALE_ORDER = b"8"
    INCORRECT_QUANTITY = b"13"
    UNSUPPORTED_ORDER_CHARACTERISTIC = b"11"
    OTHER = b"99"


class CxlRejReasons:
    TOO_LATE_TO_CANCEL = b"0"
    UNKNOWN_ORDER = b"1"
    BROKER_OPTION = b"2"
    ALREADY_PENDING = b"3"
    DUPLICATE_CL_ORD_ID = b"6"
    OTHER = b"99"


class CxlRejResponseTos:
    ORDER_CANCEL_REQUEST = b"1"
    ORDER_CANCEL_REPLACE_REQUEST = b"2"


class BusinessRejectReasons:
    OTHER = b"0"
    UNKNOWN_ID = b"1"
    UNKNOWN_SECURITY = b"2"
    UNSUPPORTED_MESSAGE_TYPE = b"3"
    APPLICATION_NOT_AVAILABLE = b"4"
    CONDITIONALLY_REQUIRED_FIELD_MISSING = b"5"
    NOT_AUTHORIZED = b"6"


class MDEntryTypes:
    BID = b"0"
    OFFER = b"1"
    TRADE = b"2"


class SubscriptionRequestTypes:
    SNAPSHOT = b"0"
    SNAPSHOT_PLUS_UPDATES = b"1"
    UNSUBSCRIBE = b"2"


class MDUpdateActions:
    NEW = b"0"
    CHANGE = b"1"
    DELETE = b"2"


class MDReqRejReasons:
    UNKNOWN_SYMBOL = b"0"
    DUPLICATE_MD_REQ_ID = b"1"
    UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE = b"4"
    UNSUPPORTED_MARKET_DEPTH = b"5"
    UNSUPPORTED_MD_UPDATE_TYPE = b"6"
    UNSUPPORTED_MD_ENTRY_TYPE = b"8"


class MassCancelRequestTypes:
    CANCEL_ORDERS_FOR_A_SECURITY = b"1"
    CANCEL_ALL_ORDERS = b"7"


class MassCancelResponses:
    CANCEL_REQUEST_REJECTED = b"0"
    CANCEL_ORDERS_FOR_A_SECURITY = b"1"
    CANCEL_ALL_ORDERS = b"7"


class SecurityListRequestTypes:
    SYMBOL = b"0"
    ALL_SECURITIES = b"4"


class SecurityRequestResults:
    VALID_REQUEST = b"0"
    INVALID_OR_UNSUPPORTED_REQUEST = b"1"
    NO_INSTRUMENTS_FOUND = b"2"
