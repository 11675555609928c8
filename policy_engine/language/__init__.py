"""Step 1, text to syntax tree: source text and spans, diagnostics and errors, the typed syntax
tree, grammar loading, the parser, the printer and the formatter. Imports no other step."""
