import sys

from emoens.cli import main

sys.exit(main())
