"""What sits between the socket and the handlers for operations: trusted proxies and the
PROXY protocol, metrics, access logs, health."""
