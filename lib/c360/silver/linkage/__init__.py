"""Probabilistic record linkage of person records with Splink 5.

One module per concern:
- `keys`: the match keys derived from person records (pure DataFrame -> DataFrame);
- `comparisons`: the comparison levels each kind of field is scored with;
- `spec`: which comparisons and rules a model uses, chosen from the fields the data fills (or the config);
- `training`: estimating prior, u and m, robust to data that cannot support an estimate;
- `prediction`: scoring blocked pairs and the first-name conflict guard;
- `charts`: Splink's charts of a run.

A trained model is a Splink settings JSON, saved versioned (see `c360.silver.model`).
"""
