"""The ledger: syncd's state store."""
