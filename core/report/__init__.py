"""HTML reports of clustering runs and PPS draws, with their maps."""
