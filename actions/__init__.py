"""Custom actions for the Rasa action server (app environment).

rasa-sdk imports every module of this package and registers each Action
subclass it finds, so one module per concern needs no central registry.
"""
