"""Editor support: the language server of ``policy-engine lsp`` (:mod:`.server`, on pygls: the
``lsp`` extra) and the rule files' highlighters generated from the grammar's words
(:mod:`.highlighting`). Nothing here is imported by the library itself."""
