"""Read runbooks.yaml into a validated Runbook, or into a list of problems with file:line and a fix.

Never raises anything but RunbookError for a bad file: people edit this file by hand, and a
traceback tells them nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.runbook.review import Finding, cross_reference_errors, warnings_for
from bot.runbook.models import Runbook



class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (libyaml's when present) that reports an impossible date as a marked YAML error."""

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as err:  # 2026-02-30 looks like a date to YAML, then fails to be one
            raise yaml.constructor.ConstructorError(
                None, None, f"impossible date or time {node.value!r}: {err}", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path + ': ' if self.path else ''}{self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class RunbookError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Loaded:
    runbook: Runbook
    path: str
    warnings: list[Problem] = field(default_factory=list)


def runbook_path(path: str | os.PathLike | None = None) -> str:
    from bot.config import runbooks_path

    return str(path or runbooks_path())


def load(path: str | os.PathLike | None = None) -> Loaded:
    name = runbook_path(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunbookError([Problem(name, None, "", "file not found", "set RUNBOOKS_PATH or pass the path")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunbookError([Problem(name, None, "", f"cannot read: {err}")]) from None
    return loads(text, name)


def _syntax_error_line(err: yaml.MarkedYAMLError, text: str, line: int | None) -> tuple[int | None, str]:
    """The line a person has to fix. PyYAML marks where it noticed the problem, often the line after:
    an unclosed quote or bracket is reported where the file ends or the next key starts, and a key
    without its colon where the next line's colon is found."""
    unclosed = err.context and err.context.startswith(("while scanning a quoted", "while parsing a flow"))
    if unclosed and err.context_mark is not None:
        return err.context_mark.line + 1, "this quote or bracket is not closed"
    if line and (err.problem or "").startswith("mapping values are not allowed"):
        before = [(n, t.strip()) for n, t in enumerate(text.splitlines()[:line - 1], start=1)
                  if t.strip() and not t.strip().startswith("#")]
        if before and ":" not in before[-1][1] and not before[-1][1].startswith("-"):
            return before[-1][0], "this key has no colon (write `key: value`)"
    return line, "check indentation, colons and quotes"


def loads(text: str, name: str = "<runbook>") -> Loaded:
    # One parse, with libyaml when present: the node tree gives line numbers and duplicate keys,
    # and the data is constructed from the same tree (parsing twice in pure Python cost ~0.2 s).
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        if isinstance(err, yaml.constructor.ConstructorError):  # well-formed YAML, but a value it cannot build
            raise RunbookError([Problem(name, line, "", f"bad value: {err.problem or err}",
                                        "dates are YYYY-MM-DD; quote values that are meant as text")]) from None
        line, hint = _syntax_error_line(err, text, line)
        raise RunbookError([Problem(name, line, "", f"YAML syntax error: {err.problem or err}", hint)]) from None
    finally:
        loader.dispose()
    if root is None:
        raise RunbookError([Problem(name, None, "", "the file is empty", "start from the runbooks.yaml in the repository")])
    lines: dict[tuple, int] = {}
    duplicates: list[Problem] = []
    _index(root, (), lines, duplicates, name)
    if duplicates:
        raise RunbookError(duplicates)
    if not isinstance(data, dict):
        raise RunbookError([Problem(name, 1, "", "the top level must be a mapping (team:, people:, pipelines: ...)")])

    def problem(finding: Finding) -> Problem:
        return Problem(name, _line_of(finding.path, lines), _dotted(finding.path), finding.message, finding.hint)

    findings = []
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as err:
        findings = [_finding(e) for e in err.errors()]
    findings += cross_reference_errors(data)
    if findings:
        raise RunbookError([problem(f) for f in sorted(findings, key=lambda f: _line_of(f.path, lines) or 0)])
    return Loaded(runbook, name, [problem(w) for w in warnings_for(runbook)])


def _finding(error) -> Finding:
    path = tuple(error["loc"])
    kind = error["type"]
    message = error["msg"].removeprefix("Value error, ")
    hint = ""
    if kind == "extra_forbidden":
        message = f"unknown key {path[-1]!r}"
        hint = "check the spelling; `oncall-bot schema` lists the allowed keys"
    elif kind == "missing":
        message = f"missing required key {path[-1]!r}"
    elif kind == "too_short":
        message = f"{path[-1]!r} needs at least {error.get('ctx', {}).get('min_length', 1)} item(s)"
        hint = "list the people in turn order, e.g. members: [Alice, Bob]" if path[-1] == "members" else "add an entry or remove the key"
    elif isinstance(error.get("input"), bool) and kind.endswith("_type"):
        hint = "YAML reads yes/no/on/off as true/false: quote the value"
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        hint = f"got {error.get('input')!r}"
    return Finding(path, message, hint)


def _index(node, path, lines, duplicates, name) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                duplicates.append(Problem(name, line, _dotted(path + (key,)),
                                          f"duplicate key {key!r} (first at line {seen[key]})", "each key may appear once"))
            seen[key] = line
            lines[path + (key,)] = line
            _index(value_node, path + (key,), lines, duplicates, name)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, path + (i,), lines, duplicates, name)


def _line_of(path: tuple, lines: dict[tuple, int]) -> int | None:
    path = tuple(str(p) if not isinstance(p, int) else p for p in path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _dotted(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
