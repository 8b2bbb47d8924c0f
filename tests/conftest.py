"""Settings every test folder shares: Hypothesis profiles.

`HYPOTHESIS_PROFILE=ci` (what `make test` and CI use) derandomizes Hypothesis: each
property test draws the same examples on every run, so a CI failure reproduces and
the suite's run time stays steady. The default profile explores new examples each run.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
