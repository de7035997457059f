"""docs/coupling_guide.md quotes the host model's code as fenced blocks whose first line is
``! fortran/host/<file>:<first>-<last>`` (``#`` for CMake): each quote must be exactly those
lines of that file, so the guide cannot drift from the code it describes.

When the host's code only moved, ``python tests/demo/test_coupling_guide.py --fix`` rewrites
the line numbers; a quote whose text changed must be rewritten by hand."""

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "coupling_guide.md"
QUOTE = re.compile(r"(```\w+\n[!#] )(fortran/host/[\w.]+):(\d+)(?:-(\d+))?\n(.*?)\n```", re.S)


def _find(lines: list[str], quoted: list[str]) -> list[int]:
    """1-based first lines where ``quoted`` occurs as a contiguous block."""
    n = len(quoted)
    return [i + 1 for i in range(len(lines) - n + 1) if lines[i : i + n] == quoted]


def check(fix: bool = False) -> list[str]:
    """Problems with the guide's quotes; with fix=True, quotes that moved are re-anchored."""
    text = GUIDE.read_text()
    problems = []

    def visit(m):
        head, path, first, last, body = m.groups()
        a, b = int(first), int(last or first)
        lines, quoted = (REPO / path).read_text().splitlines(), body.splitlines()
        if lines[a - 1 : b] == quoted:
            return m.group(0)
        found = _find(lines, quoted)
        if len(found) == 1:
            a = found[0]
            b = a + len(quoted) - 1
            problems.append(
                f"quote of {path}:{first}-{last or first} moved to {a}-{b} "
                f"(run: python {Path(__file__).relative_to(REPO)} --fix)"
            )
            ref = f"{path}:{a}" + (f"-{b}" if b != a else "")
            return f"{head}{ref}\n{body}\n```"
        problems.append(
            f"quote of {path}:{first}-{last or first} no longer matches the code; "
            "update that section of the guide"
        )
        return m.group(0)

    new = QUOTE.sub(visit, text)
    if fix and new != text:
        GUIDE.write_text(new)
    return problems


def test_guide_quotes_match_the_host_code():
    assert len(QUOTE.findall(GUIDE.read_text())) >= 10, "the guide should quote the host at every step"
    problems = check()
    assert not problems, "\n".join(problems)


def test_guide_covers_every_step():
    text = GUIDE.read_text()
    for needle in (
        "find_package(hybridge",
        "hyb_load",
        "hyb_layout",
        "physics_update",
        "ml_variables",
        "ml_get_state",
        "ml_set_state",
        "hybridge verify",
        "&hybridge_nl",
    ):
        assert needle in text, f"coupling guide does not mention {needle}"


if __name__ == "__main__":
    remaining = [p for p in check(fix="--fix" in sys.argv[1:]) if "moved" not in p or "--fix" not in sys.argv]
    print("\n".join(remaining) or "coupling guide quotes match the host code")
    sys.exit(1 if remaining else 0)
