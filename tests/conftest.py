"""Shared test settings: one deterministic Hypothesis profile for every property test."""

from hypothesis import HealthCheck, settings

# derandomize: the same examples on every run and machine, so CI is repeatable;
# no deadline: shared CI machines are noisy, and speed is the bench's business.
settings.register_profile(
    "deterministic",
    derandomize=True,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.load_profile("deterministic")
