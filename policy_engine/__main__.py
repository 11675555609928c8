"""``python -m policy_engine``: the same command as ``policy-engine``."""

import sys

from .cli import main

sys.exit(main())
