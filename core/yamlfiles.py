"""A configuration file read as YAML with its lines (seeds.yml, receivers.yml, alerts.yml): one wording for
what went wrong.

``read_located(path, problem)`` returns the file's data and the line of every value
(``classifier.yamlsource``), or raises ``problem`` (the caller's error class) with one line naming the file, the
line when there is one, and the fix: not YAML, not UTF-8, not readable.
"""

from __future__ import annotations

from pathlib import Path

from classifier.yamlsource import Located, YamlProblem, load_located
from core.errors import AdclearError, one_line

__all__ = ["read_located"]


def read_located(path: Path, problem: type[AdclearError], *, option: str = "") -> Located:
    """The data of the YAML file at ``path`` with its lines; ``problem`` with one line saying why it cannot be read
    (``option``: the command-line option that names another file, for the fix)."""
    try:
        return load_located(path)
    except YamlProblem as e:
        raise problem(
            f"{path}{f' line {e.line}' if e.line else ''}: {one_line(e.problem)}",
            zh=f"{path}{f' 第 {e.line} 行' if e.line else ''}有误：{one_line(e.problem)}；请管理员修改该文件",
        ) from None
    except UnicodeDecodeError:
        raise problem(
            f"{path}: not UTF-8 text; save it as UTF-8", zh=f"{path} 不是 UTF-8 文本：请另存为 UTF-8"
        ) from None
    except OSError as e:
        raise problem(
            f"{path}: cannot be read ({e.strerror or e}); pass a readable file{f' with {option}' if option else ''}",
            zh=f"无法读取 {path}（{e.strerror or e}）：请管理员检查该文件",
        ) from None
