"""The clustering engine: arrays in, labels and per-cluster figures out (numpy, SciPy, scikit-learn, Optuna)."""
