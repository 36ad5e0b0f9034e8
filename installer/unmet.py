"""Run inside the engine's environment: print each requirement it does not meet, one a line.

    python -I unmet.py CHECKOUT DISTRIBUTION REQUIREMENT...

A requirement is NAME, NAME==VERSION or NAME>=VERSION (what pyproject.toml uses); versions
compare on their leading numbers, enough for those pins. DISTRIBUTION (the engine itself)
must be installed editable from CHECKOUT, so the plug-in and `neural-style` run its code.
Nothing printed: everything is there. Standard library only: it runs before pip has.
"""

import json
import os
import re
import sys
from importlib import metadata
from urllib.parse import unquote, urlparse

REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)(?:(==|>=)(.+))?$")


def version_key(version):
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0])[:4])


def unmet(requirement):
    """Why requirement is not met in this environment, or None when it is."""
    match = REQUIREMENT.match(requirement)
    if not match:
        return "%s (install.py cannot check this form: use NAME, NAME==VERSION or NAME>=VERSION)" % (
            requirement)
    name, op, wanted = match.groups()
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        return "%s (missing)" % requirement
    if (op == "==" and version_key(have) != version_key(wanted)) or (
            op == ">=" and version_key(have) < version_key(wanted)):
        return "%s (have %s)" % (requirement, have)
    return None


def engine_not_from(checkout, distribution):
    """Why the engine's distribution is not an editable install of checkout, or None."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return "%s (the engine itself, missing)" % distribution
    origin = json.loads(dist.read_text("direct_url.json") or "{}")
    url = origin.get("url", "")
    editable = origin.get("dir_info", {}).get("editable", False)
    path = unquote(urlparse(url).path)
    if sys.platform.startswith("win") and re.match(r"^/[A-Za-z]:", path):
        path = path[1:]
    if not editable or os.path.normcase(os.path.realpath(path)) != os.path.normcase(
            os.path.realpath(checkout)):
        return "%s (installed from %s, not this checkout)" % (distribution, url or "elsewhere")
    return None


def main(argv):
    checkout, distribution, requirements = argv[0], argv[1], argv[2:]
    for reason in [unmet(requirement) for requirement in requirements] + [
            engine_not_from(checkout, distribution)]:
        if reason:
            print(reason)


if __name__ == "__main__":
    main(sys.argv[1:])
