import os

from hypothesis import HealthCheck, settings

# Bounded property tests: CI runs on 2 cores with a 10-minute budget for the whole suite.
settings.register_profile(
    "default",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")


import logging  # noqa: E402

import pytest  # noqa: E402


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def engine_bug_log():
    """Fails any test during which the engine logged a bug (its catch-all answers Rejected
    and logs at ERROR, see fixexchange.engine): a bug must not pass as a rejection.  A test
    that provokes one on purpose empties the returned list."""
    handler = _Records()
    logger = logging.getLogger("fixexchange.engine")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
    if handler.records:
        pytest.fail("the engine logged a bug: " + "; ".join(
            f"{r.getMessage()}\n{logging.Formatter().formatException(r.exc_info) if r.exc_info else ''}"
            for r in handler.records))
