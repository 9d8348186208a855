"""Rule-based answer verifiers: pure string and SymPy code, importable without torch or Lightning."""
