"""`python -m synctui`: the same as the `synctui` command."""

import sys

from synctui.cli import main

sys.exit(main())
