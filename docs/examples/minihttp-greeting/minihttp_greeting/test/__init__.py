"""The tests of minihttp_greeting: ``trial minihttp_greeting``."""
