"""Every code example in the documentation runs, and shows what it says.

For README.md and every page under docs/:

* ```python blocks run in order in one namespace per page (so a page's
  examples build on each other), in a temporary working folder; a block
  preceded by ``<!-- output -->`` is the exact standard output of the
  python block before it;
* ```console blocks run each ``$ customer-rules ...`` line through the real
  command line in that same folder; the lines after a command are its
  output (``...`` stands for any number of lines, a line ending in ``...``
  for any line that starts so; runs of spaces compare alike);
* ``>>>`` examples (```pycon blocks) run as doctests;
* ```yaml blocks that are policies (top-level ``id`` and ``rules``) load
  and type-check.

Blocks with a ``title="path"`` are the files of a tutorial, written out and
tested by the tutorial's own test (TUTORIALS below). A block may opt out
with ``<!-- no-test: reason -->`` right before it, only when it needs
something the tests cannot have (a network, a CRM); the reason is
required.
"""

from __future__ import annotations

import contextlib
import doctest
import importlib.util
import io
import re
import shlex
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import customer_rules as cr
from customer_rules.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
TUTORIALS = {"docs/writing-plugins.md": "tests/test_docs_writing_plugins.py"}
# Pages whose examples call engine.stream(), which runs on durable_rules today
# (not installable on CPython 3.13+). Streams are moving to the python backend;
# remove a page from here once its examples run without durable_rules.
# Pages about a separately installed plugin: skipped, naming what to install, where it is missing.
NEEDS = {
    "docs/how-to/predicted-clv.md": (
        ("customer_rules_clv", "pymc_marketing"),
        "pip install -e plugins/customer-rules-clv (pymc-marketing, the extra 'clv')",
    ),
}
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})(?P<info>[^`\n]*)$")
MARK = re.compile(r"^<!--\s*(?P<what>no-test|output)\s*(?::\s*(?P<reason>.*?))?\s*-->$")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    title: str | None
    body: str
    mark: str | None  # "no-test" or "output"
    reason: str | None


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page with the marker comment right before each."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        info = m.group("info").strip()
        lang = info.split()[0] if info else ""
        title = re.search(r'title="([^"]+)"', info)
        j = i + 1
        body: list[str] = []
        indent = len(m.group("indent"))
        while j < len(lines) and not lines[j].strip().startswith(m.group("fence")):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mark = MARK.match(lines[k].strip()) if k >= 0 else None
        out.append(
            Block(
                page,
                i + 1,
                lang,
                title.group(1) if title else None,
                "\n".join(body) + "\n",
                mark.group("what") if mark else None,
                mark.group("reason") if mark else None,
            )
        )
        i = j + 1
    return out


def rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def ids(pages: list[Path]) -> list[str]:
    return [rel(p) for p in pages]


def matches(expected: str, actual: str) -> bool:
    """Line by line, runs of spaces alike (tables may change column widths);
    a ``...`` line matches any lines, a line ending in ``...`` any line that
    starts so."""
    want = [" ".join(ln.split()) for ln in expected.strip().splitlines()]
    got = [" ".join(ln.split()) for ln in actual.strip().splitlines()]

    def same(w: str, g: str) -> bool:
        return g.startswith(w[:-3].rstrip()) if w.endswith("...") else w == g

    def match(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(got)
        if want[i] == "...":
            return any(match(i + 1, k) for k in range(j, len(got) + 1))
        return j < len(got) and same(want[i], got[j]) and match(i + 1, j + 1)

    return match(0, 0)


def run_console(block: Block) -> None:
    commands: list[tuple[str, list[str]]] = []
    for line in block.body.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif commands:
            commands[-1][1].append(line)
    assert commands, f"{rel(block.page)}:{block.line}: a console block without a $ command"
    for command, expected in commands:
        argv = shlex.split(command, comments=True)
        assert argv[0] == "customer-rules", (
            f"{rel(block.page)}:{block.line}: only customer-rules commands run"
        )
        result = CliRunner().invoke(
            cli, argv[1:], env={"COLUMNS": "100", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}
        )
        shown = "\n".join(expected)
        code = re.search(r"# exit (\d+)", command)
        assert result.exit_code == (int(code.group(1)) if code else 0), (
            f"{rel(block.page)}:{block.line}: `{command}` exited {result.exit_code}\n{result.output}"
        )
        if shown.strip():
            assert matches(shown, result.output), (
                f"{rel(block.page)}:{block.line}: `{command}` printed\n{result.output}\nnot\n{shown}"
            )


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modules, install = NEEDS.get(rel(page), ((), ""))
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if absent:
        pytest.skip(f"{rel(page)} needs {', '.join(absent)}: {install}")
    monkeypatch.chdir(tmp_path)
    # the page is a module, as a reader's script is: pydantic resolves a model's
    # annotations through sys.modules[model.__module__]
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace: dict[str, object] = module.__dict__
    last_output: str | None = None
    for block in blocks(page):
        where = f"{rel(page)}:{block.line}"
        if block.mark == "no-test":
            assert block.reason, f"{where}: <!-- no-test: reason --> needs a reason"
            continue
        if block.mark == "output":
            assert last_output is not None, f"{where}: an output block must follow a python block"
            assert matches(block.body, last_output), (
                f"{where}: the example printed\n{last_output}\nnot\n{block.body}"
            )
            last_output = None
            continue
        if block.title is not None:
            assert rel(page) in TUTORIALS, f"{where}: a titled (file) block outside a tested tutorial"
            continue
        if block.lang in ("python", "py"):
            buffer = io.StringIO()
            code = compile(block.body, where, "exec")
            with contextlib.redirect_stdout(buffer):
                exec(code, namespace)  # the documentation's own code, as a reader runs it
            last_output = buffer.getvalue()
        elif block.lang == "console":
            run_console(block)
        elif block.lang == "yaml":
            data = yaml.safe_load(block.body)
            if isinstance(data, dict) and "id" in data and "rules" in data:
                cr.load_policy(block.body, format="yaml")


DOCTEST_PAGES = [p for p in PAGES if ">>> " in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("page", DOCTEST_PAGES, ids=ids(DOCTEST_PAGES))
def test_page_doctests_pass(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = page.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, rel(page), str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0


def test_tutorials_are_tested_by_their_own_test() -> None:
    for page, test in TUTORIALS.items():
        assert (ROOT / test).exists()
        assert Path(page).name in (ROOT / test).read_text(encoding="utf-8")


def test_opt_outs_are_rare() -> None:
    skipped = [b for p in PAGES for b in blocks(p) if b.mark == "no-test"]
    runnable = [b for p in PAGES for b in blocks(p) if b.lang in ("python", "py", "console")]
    assert len(skipped) <= max(2, len(runnable) // 20), [f"{rel(b.page)}:{b.line}" for b in skipped]


def test_every_builtin_scheme_has_a_page_listed_in_the_index() -> None:
    index = (ROOT / "docs" / "schemes" / "index.md").read_text(encoding="utf-8")
    for sid, scheme in cr.Engine(load_entry_points=False).schemes.items():
        assert (ROOT / "docs" / "schemes" / f"{sid}.md").exists(), sid
        assert f"[`{sid}`]({sid}.md) | {scheme.kind} |" in index, sid


def test_readme_links_point_at_files() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert local
    for link in local:
        assert (ROOT / link).exists(), link
