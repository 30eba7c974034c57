"""Synthetic multi-source customer data with ground truth (`c360 generate`), and the independent crm_pairs
generator the linkage benchmarks use."""
