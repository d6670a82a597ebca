"""``python -m ntp_py``: the ``ntp-py`` command-line tool."""

import sys

from ntp_py.cli import main

sys.exit(main())
