"""``python -m policy_engine``: the same command as ``policy-engine``."""

import sys

from .cli.main import main

sys.exit(main())
