import sys

from modspike.cli import main

sys.exit(main())
