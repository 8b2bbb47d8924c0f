"""aws.client's layer-handling calls (submit, fetch_to_file) in a Python process of their own.

They read and write layers with geopandas, pyarrow and pyogrio, which must never load inside QGIS
(their bundled PROJ/GEOS next to QGIS's crash the desktop). SubmitAwsAlgorithm starts this file with
the interpreter QGIS embeds and QGIS's own sys.path, sends one JSON request on stdin, and reads
"PROGRESS [fraction, text]" lines and one "RESULT {...}", "CANCELLED {}" or "ERROR {...}" line back.
A cancel creates the request's cancel_file: the next progress call below stop_before stops the call,
exactly where the client's own progress callback would (so runs already started are never orphaned).
status and cancel load none of those packages and stay in QGIS.
"""

import json
import os
import sys
import traceback

CALLS = ("submit", "fetch_to_file")


class Cancelled(Exception):
    pass


def main() -> int:
    request = json.loads(sys.stdin.read())
    cancel_file, stop_before = request.get("cancel_file"), request.get("stop_before")
    try:
        from aws import client

        def progress(fraction, text):
            if cancel_file and os.path.exists(cancel_file) and (stop_before is None or fraction < stop_before):
                raise Cancelled()
            print("PROGRESS " + json.dumps([fraction, text]), flush=True)

        if request["call"] not in CALLS:
            raise ValueError(f"unknown call {request['call']!r}")
        outcome = getattr(client, request["call"])(*request.get("args", []), progress=progress, **request["kwargs"])
    except Cancelled:
        print("CANCELLED {}", flush=True)
        return 1
    except Exception as error:  # the plugin shows the message; the traceback goes to its log
        print("ERROR " + json.dumps({"kind": type(error).__name__, "message": str(error) or type(error).__name__,
                                     "traceback": traceback.format_exc()}), flush=True)
        return 1
    print("RESULT " + json.dumps(outcome, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
