"""Policy tests: test files of requests with their expected decisions, their runner, coverage
and reports (text, JUnit). Imports the library steps and :mod:`policy_engine.analysis`."""
