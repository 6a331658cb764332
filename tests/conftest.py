import os

from hypothesis import HealthCheck, settings

import mygru

# Every work array of every call in the suite goes through the workspace (by default
# only those of 64 KiB and up do), so that the tests run the kernels on reused memory.
mygru.workspace.min_bytes = 0

# Examples are tiny; the budget is kept so that the whole suite stays well under
# 10 minutes on a 2-core machine. HYPOTHESIS_PROFILE=thorough for a deeper run.
settings.register_profile(
    "default", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
