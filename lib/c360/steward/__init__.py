"""Stewards in the loop: labels on pairs of person records that every run honours (labels, actions), the
review queue that picks the pairs worth a person's time (review, levels), and quality estimated from the
labels without ground truth (estimates)."""
