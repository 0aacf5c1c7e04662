"""Kept only for hub/cli_calendar.py (moving out of the kit): the reader is hub.datafile now.

Delete this module once the command line imports `hub.datafile.DataFileError` itself.
"""

from hub.datafile import DataFileError

__all__ = ["DataFileError"]
