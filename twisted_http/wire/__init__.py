"""Bytes to messages and back: the parser, framing, header fields, the serializer,
the protocol errors and the limits. Nothing here imports Twisted.
"""
