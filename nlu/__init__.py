"""Vietnamese NLU for the child-safety assistant (Rasa 3.6 graph components).

Modules, one concern each:
  vietnamese_text   canonical form, tokens with offsets (standard library only)
  tokenizer         VietnameseTokenizer (lemma = canonical form)
  danger_lexicon    danger-signal matching with negation / information-question context
  danger_features   lexicon categories as sparse features for DIET
  linear_intent     TF-IDF logistic regression intent classifier blended with DIET
  triage            RiskTriage: the ``risk`` field of every parse result
  safety_policy     SafetyNetPolicy: the risk response or the gentle check-in whenever risk says so

Only ``vietnamese_text`` may be imported by the app environment.
"""
