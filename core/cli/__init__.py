"""The command line: `python -m core cluster | sample | classify` (also installed as `wrok`)."""
