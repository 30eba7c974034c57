"""Reference data shared by the generator and matching: nicknames, address abbreviations."""
