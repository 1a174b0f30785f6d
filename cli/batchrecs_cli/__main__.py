"""``python -m batchrecs_cli``."""

import sys

from batchrecs_cli import main

sys.exit(main())
