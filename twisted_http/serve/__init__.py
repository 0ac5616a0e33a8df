"""Running the server: the twistd command line and service, worker processes and
their listening sockets.
"""
