"""`python -m posture`: the library's own commands (`analyze`, `batch` without the history store)."""

import sys

from .cli import main

sys.exit(main())
