"""``python -m skreweight``: the command line."""

import sys

from skreweight.cli import main

if __name__ == "__main__":
    sys.exit(main())
