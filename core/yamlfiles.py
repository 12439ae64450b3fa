"""A configuration file read as YAML with its lines (receivers.yml, alerts.yml): one wording for what went wrong.

``read_located(path, problem)`` returns the file's data and the line of every value
(``classifier.yamlsource``), or raises ``problem`` (the caller's error class) with one line naming the file, the
line when there is one, and the fix: not YAML, not UTF-8, not readable.
"""

from __future__ import annotations

from pathlib import Path

from classifier.yamlsource import Located, YamlProblem, load_located
from core.errors import AdclearError, one_line

__all__ = ["read_located"]


def read_located(path: Path, problem: type[AdclearError]) -> Located:
    """The data of the YAML file at ``path`` with its lines; ``problem`` with one line saying why it cannot be read."""
    try:
        return load_located(path)
    except YamlProblem as e:
        raise problem(f"{path}{f' line {e.line}' if e.line else ''}: {one_line(e.problem)}") from None
    except UnicodeDecodeError:
        raise problem(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as e:
        raise problem(f"{path}: cannot be read ({e.strerror or e}); pass a readable file") from None
