"""Fill in a deploy/ template: every {{NAME}} from NAME=value arguments; nothing may be left.

    python deploy/render.py deploy/nginx-site.conf SERVER_NAME=visio.mairie.fr ... \
        > /etc/nginx/sites-available/guichet-visio

Standard library only (run it with any Python 3). `{{` never occurs in nginx's own syntax.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")


def placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def render(template: str, values: dict[str, str]) -> str:
    """The template with its placeholders replaced; a missing or unknown name is an error."""
    wanted = placeholders(template)
    if missing := sorted(wanted - values.keys()):
        raise ValueError(f"no value for {', '.join(missing)}")
    if unknown := sorted(values.keys() - wanted):
        raise ValueError(f"not in the template: {', '.join(unknown)}")
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not all("=" in arg for arg in argv[2:]):
        print(__doc__, file=sys.stderr)
        return 2
    template = Path(argv[1]).read_text()
    try:
        sys.stdout.write(render(template, dict(arg.split("=", 1) for arg in argv[2:])))
    except ValueError as error:
        print(f"{argv[1]}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
