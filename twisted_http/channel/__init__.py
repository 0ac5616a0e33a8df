"""One connection's life on Twisted: the LineReceiver protocol, its flow control and
deadlines, requests, responses, the mount table and the factory.
"""
