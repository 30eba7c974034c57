"""Silver: standardised person records, deterministic stitching, Splink linkage, clustering, stable customer
ids with redirects, and interactions; incremental where it can be."""
