"""Shared test set-up: the tests folder is importable, so that test modules can use the
helper modules next to them (model_instances, bruteforce, hourly_reference)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
