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
