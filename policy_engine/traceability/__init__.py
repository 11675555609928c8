"""Reports that trace a policy's rules to what they allow: the disclosure matrix
(``policy-engine matrix``), the register of processing activities (``policy-engine register``)
and which sections of the encoded text the rules cover (``policy-engine coverage``)."""
