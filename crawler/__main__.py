"""``python -m crawler``: see :mod:`crawler.run`."""

import sys

from crawler.run import main

sys.exit(main())
