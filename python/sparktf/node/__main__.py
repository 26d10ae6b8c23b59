"""Entry point: ``python -m sparktf.node BOOTSTRAP_JSON_PATH``."""

import sys

from sparktf.node.runtime import main

if __name__ == "__main__":
    main(sys.argv[1:])
