import os

from hypothesis import HealthCheck, settings

# Examples are tiny; the budget is kept so that the whole suite stays well under
# 10 minutes on a 2-core machine. HYPOTHESIS_PROFILE=thorough for a deeper run.
settings.register_profile(
    "default", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
