import pytest

from fixexchange.engine import Engine

from .reference import ReferenceEngine


@pytest.fixture(params=[Engine, ReferenceEngine], ids=["engine", "reference"])
def impl(request):
    """The implementation a rule test runs against: the engine, then the reference model."""
    return request.param
