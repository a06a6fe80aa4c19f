"""The slot names the action modules share (declared in domain.yml), each named once.

Standard library only, so that the safety actions can import it without loading the
knowledge base (their reply must not depend on it). Names the gateway also reads are in
common/dialogue.py.
"""

AUDIENCE_SLOT = "audience"  # "child" or "parent": who is talking, for the whole conversation
DISCLOSED_SLOT = "disclosed"  # something high or imminent was disclosed in this conversation
TOPIC_SLOT = "conversation_topic"  # the knowledge-base topic of what was disclosed or answered last
LAST_QUESTION_SLOT = "kb_last_question"  # what a follow-up is read with (a disclosure, or a question as understood)
LAST_CARD_SLOT = "last_card"  # the card answered last (feedback, follow-ups)
