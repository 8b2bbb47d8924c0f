"""wrok on AWS: S3 -> Step Functions Distributed Map -> one clustering Lambda per region file.

handler.py and kickoff.py are the Lambdas; client.py is what the QGIS algorithm and the
command line (`python -m aws`) call; split.py cuts a country layer into region files.
Only boto3 and the engine (core/) are needed; nothing here imports QGIS.
"""
