"""The README's first campaign, run as written (its shell block, with curl and python3) against a
running system, twice in a row: the second run works too (its contacts already exist)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.system import DEFAULT_FLOW, System, wait_until

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def first_campaign() -> str:
    """The README's shell block that starts with `export KEY=`, without the two exports (the
    test gives KEY and API)."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    script = next(b for b in blocks if b.startswith("export KEY="))
    kept = [line for line in script.splitlines() if not line.startswith(("export KEY=", "export API="))]
    assert len(kept) == len(script.splitlines()) - 2
    return "\n".join(kept)


def test_the_first_campaign_runs_twice(system_factory, tmp_path):
    assert shutil.which("curl"), "the README's commands need curl"
    system: System = system_factory(clock_speed=60)
    org = system.create_org(credits=1000)
    assert org.post("/flows", json=DEFAULT_FLOW).status_code == 201
    system.add_did("+212500000801")
    script = first_campaign() + '\nprintf "\\nEXECUTION=%s\\n" "$EXE"\n'
    env = {"PATH": "/usr/bin:/bin", "KEY": org.api_key, "API": system.base_url + "/api"}

    executions = []
    for run in (1, 2):
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"run {run}: {done.stderr}\n{done.stdout}"
        found = re.search(r"^EXECUTION=(\S+)$", done.stdout, flags=re.M)
        assert found, done.stdout
        executions.append(found.group(1))
    assert executions[0] != executions[1]
    # The second run's audience has both contacts, although the import skipped them as existing.
    second = wait_until(lambda: (e := org.get(f"/program-executions/{executions[1]}").json())["totalContacts"] == 2
                        and e, message="the second execution to count its contacts")
    assert second["totalContacts"] == 2
    contacts = org.get("/contacts").json()
    assert sorted(c["phone"] for c in contacts) == ["+212600000001", "+212600000002"]
