"""Questions about a whole policy rather than one request: the request space, invariant proofs,
findings (can never apply, redundant, shadowed, overlaps) and the semantic diff of two versions.
Imports the steps below it (language, semantics, engine), never a shell."""
