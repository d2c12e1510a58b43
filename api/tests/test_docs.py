"""docs/api.md's curl examples, run as written with bash and curl against a live server."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from api import tokens

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# The first block's line that readers fill in with their own server, token and patient.
SETUP = re.compile(r"^export PORTICO=\S+ TOKEN=\S+ PATIENT=\S+$", re.M)

pytestmark = pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")),
                                reason="the documented examples need bash and curl")


def sh_blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", DOCS.read_text(), re.S | re.M)


def json_documents(text: str) -> list:
    """Every JSON document printed, one after another (a block may run more than one curl)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        document, at = decoder.raw_decode(text, at)
        found.append(document)
        while at < len(text) and text[at].isspace():
            at += 1
    return found


def test_the_first_block_sets_what_the_others_use():
    blocks = sh_blocks()
    assert len(blocks) >= 5 and SETUP.search(blocks[0])
    assert all("curl -fsS" in block for block in blocks)  # -f: an HTTP error fails the block


@pytest.mark.django_db(transaction=True)
def test_every_curl_example_runs_against_a_live_server(live_server, cast):
    token = tokens.create_token(cast.alice, name="docs")[1]
    setup, *examples = sh_blocks()
    setup = SETUP.sub(f"export PORTICO={live_server.url} TOKEN={token} PATIENT={cast.pat.pk}", setup)
    exports = SETUP.search(setup).group(0)
    for script in [setup, *(f"{exports}\n{block}" for block in examples)]:
        run = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], capture_output=True, text=True,
                             timeout=30, check=False)
        assert run.returncode == 0, (script, run.stderr)
        assert json_documents(run.stdout), (script, run.stdout)
    # what the examples did, they did for real
    assert cast.pat.invitations.count() == 1 and cast.practice.patients.filter(chart_number="A-300").exists()
