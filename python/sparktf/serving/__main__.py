"""Entry point: ``python -m sparktf.serving BOOTSTRAP_JSON_PATH``."""

import sys

from sparktf.serving.model_server import main

if __name__ == "__main__":
    main(sys.argv[1:])
