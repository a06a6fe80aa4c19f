"""`python -m actions.knowledge_base <command>`: see cli.py.

rasa-sdk imports every module under actions/, this one included, under the name
`actions.knowledge_base.__main__`: the guard below keeps that import harmless.
"""

import sys

if __name__ == "__main__":
    from actions.knowledge_base.cli import main

    sys.exit(main())
