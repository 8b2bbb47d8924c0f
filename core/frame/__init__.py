"""Survey-frame rules shared by every front end: strata, PPS selection, cluster fields, CRS and H3 rules."""
