"""Vietnamese NLU for the child-safety assistant (Rasa 3.6 graph components).

Modules, one concern each:
  vietnamese_text   canonical form, tokens with offsets (standard library only)
  risk_field        the ``risk`` field's levels and cue categories (standard library only)
  tokenizer         VietnameseTokenizer (lemma = canonical form)
  danger_lexicon    danger-signal matching with negation / information-question context
  danger_features   lexicon categories as sparse features for DIET
  linear_intent     TF-IDF logistic regression intent classifier blended with DIET
  triage            RiskTriage: the ``risk`` field of every parse result
  safety_policy     SafetyNetPolicy: the risk response or the gentle check-in whenever risk says so
  moments           the moments that decide whether a child goes on (hesitation, secrecy...)
  moment_policy     MomentPolicy: the answer to such a moment, when the conversation calls for it

Only ``vietnamese_text``, ``risk_field`` and ``moments`` (pure Python and PyYAML) may be imported
by the app environment. Nothing here imports the rest of the project (``common/`` included):
this is a Rasa component package, loaded by the engine from config.yml.
"""
