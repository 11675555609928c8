"""Step 2, syntax tree to checked policy: the vocabulary hierarchies (networkx DAGs and their
closures) and the checker's named passes. Imports only :mod:`policy_engine.language`."""
