"""Rewrite ``options/catalogue.json`` from the registries' declarations (after declaring, changing
or removing an option): ``python -m options.write_catalogue``; ``--check`` only says whether it is current."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from options.catalogue import CATALOGUE, REGENERATE, catalogue_is_current, declared_groups
from utils.io import write_text


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_catalogue(path: Path = CATALOGUE) -> None:
    """Record the registries' declarations in ``path``: one line per option, so that a change of
    declarations shows as a change of the lines of its options."""
    groups = []
    for group in declared_groups():
        options = ",\n".join(f"   {_dumps(option)}" for option in group["options"])
        groups.append(f'  {{"title": {_dumps(group["title"])}, "description": {_dumps(group["description"])}, '
                      f'"options": [\n{options}]}}')
    body = ",\n".join(groups)
    # every run reads it: written atomically
    write_text(f'{{"generated_by": {_dumps(REGENERATE)}, "groups": [\n{body}]}}\n', path)


def main(args: Sequence[str]) -> int:
    """Rewrite the catalogue; with ``--check``, exit with 1 when it is out of date."""
    if list(args) == ["--check"]:
        current = catalogue_is_current()
        print(f"{CATALOGUE} is {'current' if current else f'out of date: run {REGENERATE}'}")
        return 0 if current else 1
    write_catalogue()
    print(f"wrote {CATALOGUE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
