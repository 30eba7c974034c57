"""Data protection: erasure of a person (GDPR Art. 17) in every table and file, and keeping them erased."""
