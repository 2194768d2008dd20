"""Virtualenvs that hold Airflow the way users install it, and what this provider changes in them.

A platform team's Airflow image holds one Airflow release with the packages of its constraints file:
the versions PyPI had when the release's first candidate was cut. Those files live on GitHub, which
CI cannot reach, so the image is rebuilt from PyPI: Airflow's own packages fetched first, everything
else with pip's ``--uploaded-prior-to`` set to that day. (A package published between the candidate
and the release can break it: structlog 25.5.0 came out hours before Airflow 3.1.1 and does not
import with it.) This provider is then installed on top, and what it changes is reported.

    python tools/airflow_env.py oldest VENV   # the oldest supported Airflow + the declared minimum
                                              # providers + this checkout (editable, sim and test
                                              # extras), for `make test-oldest`
    python tools/airflow_env.py oldest VENV --airflow 3.2.0 --frozen 2026-03-30
                                              # the same with another release and its image's
                                              # providers, for `make test-airflow`
    python tools/airflow_env.py wheel VENV WHEEL
                                              # the newest tested Airflow + the built wheel alone,
                                              # then a smoke test of the installed provider

Each prints one JSON object: the Airflow release, the cutoff, and the packages the provider moved.
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Airflow releases CI proves, with the day of each one's first release candidate on PyPI (where its
# constraints were frozen). The README's Compatibility table names the same releases.
OLDEST = {"airflow": "3.1.1", "frozen": "2025-10-22"}
NEWEST = {"airflow": "3.3.2", "frozen": "2026-09-13"}

# Providers a team's Airflow image holds (with the versions of its day) before this one is added: the
# Amazon provider without its aiobotocore extra, as `apache-airflow[amazon]` installs it, so what
# this provider's deferrable waits add (aiobotocore, and the botocore it pins) shows in the report.
IMAGE_PROVIDERS = ("apache-airflow-providers-amazon", "apache-airflow-providers-standard",
                   "apache-airflow-providers-common-compat")


def pip(venv: Path, *args: str, capture: bool = False) -> str:
    """pip of the venv, blind to this machine's pip config (local wheel folders would add packages
    newer than the cutoff); the CA bundle stays for proxies."""
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    certificates = ["--cert", str(bundle)] if bundle.exists() else []
    command = [str(venv / "bin" / "python"), "-m", "pip", "--isolated", "--disable-pip-version-check",
               *args[:1], *certificates, *args[1:]]
    done = subprocess.run(command, check=True, text=True, stdout=subprocess.PIPE if capture else None)
    return done.stdout or ""


def installed(venv: Path) -> dict[str, str]:
    listing = json.loads(pip(venv, "list", "--format=json", capture=True))
    return {canonical(p["name"]): p["version"] for p in listing}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_minimums() -> dict[str, str]:
    """The provider's own ``name>=version`` requirements (setup.cfg), by canonical name."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    minimums = {}
    for line in config["options"]["install_requires"].split("\n"):
        found = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^]]*])?\s*>=\s*([0-9][^,\s]*)", line)
        if found:
            minimums[canonical(found.group(1))] = found.group(3)
    return minimums


def image(venv: Path, release: dict[str, str]) -> str:
    """A fresh venv holding Airflow ``release`` and its day's providers; returns the cutoff."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip(venv, "install", "--quiet", "--upgrade", "pip>=26")  # --uploaded-prior-to came with pip 26
    # Airflow's own packages come out after the cutoff: fetch them first (apache-airflow, then the
    # core and task SDK at the lowest versions it admits, as its release did).
    airflow = venv / "airflow-release"
    wanted = [f"apache-airflow=={release['airflow']}"]
    while wanted:
        pip(venv, "download", "--quiet", "--no-deps", "--dest", str(airflow), *wanted)
        wanted = [f"{name}=={version}" for wheel_file in airflow.glob("*.whl")
                  for name, version in airflow_parts(wheel_file)
                  if not any(airflow.glob(f"{wheel_name(name)}-{version}-*"))]
    cutoff = f"{release['frozen']}T00:00:00Z"
    pip(venv, "install", "--quiet", "--find-links", str(airflow), "--uploaded-prior-to", cutoff,
        f"apache-airflow=={release['airflow']}", *IMAGE_PROVIDERS)
    return cutoff


def airflow_parts(wheel_file: Path) -> list[tuple[str, str]]:
    """The Airflow core and task SDK a wheel requires (``==V`` or ``>=V``), without extras."""
    with zipfile.ZipFile(wheel_file) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    return re.findall(r"^Requires-Dist: (apache-airflow-(?:core|task-sdk))\s*(?:==|>=)\s*([0-9][^,;\s]*)[^;\n]*$",
                      metadata, re.M)


def wheel_name(name: str) -> str:
    return name.replace("-", "_")


def moves(before: dict[str, str], after: dict[str, str]) -> dict:
    """What the install did to the image: versions it changed, packages it added."""
    return {"changed": {name: f"{before[name]} -> {version}" for name, version in sorted(after.items())
                        if name in before and before[name] != version},
            "added": sorted(name for name in after if name not in before)}


def oldest(venv: Path, release: dict[str, str] = OLDEST) -> dict:
    cutoff = image(venv, release)
    before = installed(venv)
    # The image's versions hold, except, on the oldest Airflow, the providers this one depends on:
    # those are installed at exactly the minimum it declares, the floor its declared range promises.
    # (Another release keeps its image's providers: the floor need not install beside it.)
    providers = {name: version for name, version in declared_minimums().items()
                 if name.startswith("apache-airflow-providers-") and release == OLDEST}
    pins = venv / "image-constraints.txt"
    pins.write_text("".join(f"{name}=={version}\n" for name, version in before.items()
                            if name not in providers and name not in ("pip", "setuptools", "wheel")))
    floor = [f"{name}=={version}" for name, version in providers.items()]
    pip(venv, "install", "--quiet", "-c", str(pins), *floor, "-e", f"{ROOT}[sim,test]")
    after = installed(venv)
    after.pop(canonical("airflow-provider-drs"), None)
    return {"airflow": release["airflow"], "cutoff": cutoff, "provider_floor": floor,
            "install_on_top": moves(before, after)}


def wheel(venv: Path, wheel_file: Path) -> dict:
    cutoff = image(venv, NEWEST)
    before = installed(venv)
    pip(venv, "install", "--quiet", str(wheel_file))
    after = installed(venv)
    after.pop(canonical("airflow-provider-drs"), None)
    return {"airflow": NEWEST["airflow"], "cutoff": cutoff, "wheel": wheel_file.name,
            "install_on_top": moves(before, after), "smoke": smoke(venv)}


def smoke(venv: Path) -> list[str]:
    """The installed wheel, outside this checkout: Airflow finds the provider and its settings, and
    the plan language validates the sample plans."""
    env = {**os.environ, "AIRFLOW_HOME": str(venv / "airflow-home")}
    binaries = venv / "bin"
    checks = [
        [str(binaries / "airflow"), "providers", "get", "airflow-provider-drs"],
        [str(binaries / "airflow"), "config", "list", "--section", "drs", "--include-descriptions"],
        [str(binaries / "drs-plan"), "validate", *map(str, sorted((ROOT / "dags" / "plans").glob("*.yaml")))],
    ]
    for check in checks:
        done = subprocess.run(check, cwd=venv, env=env, text=True, capture_output=True)
        if done.returncode:
            raise SystemExit(f"installed wheel: {' '.join(check[1:])} failed:\n{done.stdout}{done.stderr}")
    return [f"{Path(check[0]).name} {' '.join(check[1:4])}: ok" for check in checks]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    lowest = commands.add_parser("oldest")
    lowest.add_argument("venv", type=Path)
    lowest.add_argument("--airflow", default=OLDEST["airflow"], help="another release, to try it as the floor")
    lowest.add_argument("--frozen", default=OLDEST["frozen"], help="its first release candidate's day")
    built = commands.add_parser("wheel")
    built.add_argument("venv", type=Path)
    built.add_argument("wheel", type=Path)
    args = parser.parse_args()
    args.venv = args.venv.resolve()
    if args.command == "oldest":
        result = oldest(args.venv, {"airflow": args.airflow, "frozen": args.frozen})
    else:
        result = wheel(args.venv, args.wheel)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
