"""A stand-in MCP server for launch tests: records the environment and argv it was started with
in $PROBE_OUT/<name>.json (a private test directory), prints nothing, and exits 0."""

import json
import os
import sys

name = sys.argv[1]
out = os.environ["PROBE_OUT"]
with open(os.path.join(out, f"{name}.json"), "w", encoding="utf-8") as fh:
    json.dump({"env": dict(os.environ), "argv": sys.argv}, fh)
