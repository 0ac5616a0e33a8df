"""Known attacks on HTTP servers, each replayed against minihttp (see docs/security.md)."""
