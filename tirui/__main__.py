"""``python -m tirui``."""

import sys

from tirui.cli import main

sys.exit(main())
