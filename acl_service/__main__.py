"""`python -m acl_service` runs the CLI, as the `acl-service` script does."""

import sys

from acl_service.cli import main

if __name__ == "__main__":
    sys.exit(main())
