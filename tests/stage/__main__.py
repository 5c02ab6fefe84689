"""``python -m stage up|down``: see stage.kit."""
import sys

from stage.kit import main

sys.exit(main())
