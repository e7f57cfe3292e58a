import pytest
from hypothesis import HealthCheck, settings

from small_problems import problem

settings.register_profile("linnet", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("linnet")


@pytest.fixture
def small():
    return problem()
