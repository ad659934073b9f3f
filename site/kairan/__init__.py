"""Kairan: the Django project (settings, urls) and its project-wide apps.

The package lives in ``site/`` (a source root on ``sys.path``) because Python's
standard library owns the top-level name ``site``.
"""

__version__ = "0.1.0"
