"""python -m genzoo"""

from .cli.main import entry

entry()
