"""Silver: standardised person records, identity stitching and linkage (in progress: standardisation)."""
