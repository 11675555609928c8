"""Steps 3-5, checked policy to decisions: the compiler and its per-cell specialisation, the
evaluator, request normalisation, the decision and its explanation, the compiled image and its
cache, and :class:`~policy_engine.engine.policy.Policy`, which runs the steps in order.
Imports :mod:`policy_engine.language` and :mod:`policy_engine.semantics`."""
