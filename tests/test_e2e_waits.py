"""Browser tests wait on functions, never on bare expressions: Playwright evals a bare
expression again at each poll, which the pages' CSP (no 'unsafe-eval') refuses once the first
poll has passed, so such a wait fails whenever its condition comes late
(microsoft/playwright#36986; seen in a CI run of tests/e2e/test_links.py)."""

import ast
import re
from pathlib import Path

E2E = Path(__file__).parent / "e2e"
FUNCTION = re.compile(r"^\s*(\(|async\b|function\b|[A-Za-z_$][\w$]*\s*=>)")


def _bare_waits(source: str, name: str) -> list[str]:
    tree = ast.parse(source)
    constants = {t.id: n.value.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                 and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
                 for t in n.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "wait_for_function" and node.args):
            arg = node.args[0]
            if isinstance(arg, ast.JoinedStr):  # an f-string: what it starts with
                arg = arg.values[0]
            text = arg.value if isinstance(arg, ast.Constant) else constants.get(getattr(arg, "id", ""))
            if isinstance(text, str) and not FUNCTION.match(text):
                found.append(f"{name}:{node.lineno}")
    return found


def test_the_check_finds_a_bare_expression() -> None:
    source = ('A = "(n) => n"\npage.wait_for_function("window.x === true")\npage.wait_for_function(A, arg=1)\n'
              'page.wait_for_function(f"() => {A}")\npage.wait_for_function(f"window.{A} === 1")\n')
    assert _bare_waits(source, "t") == ["t:2", "t:5"]


def test_no_browser_test_waits_on_a_bare_expression() -> None:
    files = sorted(E2E.rglob("*.py"))
    assert files
    found = [hit for path in files for hit in _bare_waits(path.read_text(), path.name)]
    assert found == []
