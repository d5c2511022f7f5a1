"""``python -m sctpmh.cli``: the ``sctpmh`` command without the installed script."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
