"""``python -m guichet_printer`` runs the print agent."""

import sys

from .agent import main

sys.exit(main())
