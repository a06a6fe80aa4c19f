"""The engine container's entry point: `rasa <args> --auth-token=$RASA_TOKEN`.

Rasa takes its API token only on the command line. Passing it in the compose
file would put the secret in the container's configuration and in `ps`; this
launcher reads it from the environment (deploy/env/rasa.env) instead, removes it
from the environment Rasa and its children inherit, installs the log redaction
(common/redaction.py, standard library only) and runs Rasa's own CLI.
The same pattern as devtools/stack.py's launcher, with the token given as
`--auth-token=<token>` because a token may begin with "-".
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    token = os.environ.pop("RASA_TOKEN", "").strip()
    if not token:
        sys.exit("RASA_TOKEN is not set: the Rasa HTTP API must not run without a token (deploy/env/rasa.env)")

    from common.redaction import install

    install()  # before Rasa logs anything: no message text in the logs

    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:], f"--auth-token={token}"]
    rasa_main()


if __name__ == "__main__":
    main()
