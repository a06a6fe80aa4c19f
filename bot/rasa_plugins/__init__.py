"""Extensions that the Rasa engine loads from endpoints.yml (engine environment).

Modules here import only rasa, cryptography and the standard library: the Rasa
server imports them, and the app environment's packages are not installed there.
"""
