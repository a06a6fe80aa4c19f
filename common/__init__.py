"""What the three runtimes share, each thing named once.

The rule of this package: **standard library only**. The Rasa engine (engine
environment), the action server and the gateway (app environment) all import it,
and the two environments have different third-party packages; a module here
imports nothing but the standard library and other modules of `common`
(tests/common/test_common_imports.py holds it to that).

  dialogue    the dialogue contract between the runtimes: risk levels, the action and
              slot names the gateway uses, the handoff instruction the action server
              writes and the gateway reads
  redaction   keeps children's words and identifiers out of every log line (installed by
              the gateway, the action server and both Rasa launchers)
  settings    helpers the runtimes' settings share (the private secrets directory)
  text_guard  free text typed by a person made safe to hand to Rasa (the gateway, and the
              engine-environment scripts that parse text as the gateway sends it)

`nlu/` is a Rasa component package and imports nothing from the project, this
package included: what nlu writes (the `risk` field of a parse result, its levels and
cue categories) is defined in `nlu/risk_field.py`, and tests/nlu checks that its levels
are the dialogue contract's. Vietnamese text folding stays in `nlu/vietnamese_text.py`
for the same reason (the knowledge base imports it from there).
"""
