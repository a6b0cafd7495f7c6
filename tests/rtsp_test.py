#!/usr/bin/env python3
"""A camera over RTSP, through the real thing: GStreamer's RTSP server streams darknet's dog.jpg (a bicycle, a dog and
a parked car) from loopback, and `citybrain vision run` pulls it once a second through OpenCV's VideoCapture
(FFmpeg) beside a camera whose source is a file. The stream's parked car files an illegal_parking event. Then the
server is killed with SIGKILL: the stream's samples fail and are counted, the camera is reported offline, and the
file camera keeps its rate meanwhile (a dead stream holds up no other camera). The server comes back on the same
port: the camera's frames resume and its health is ok again.
Usage: rtsp_test.py CITYBRAIN
"""
import json
import os
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import FAILED, check  # noqa: E402

BIN = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PHOTO = "/usr/share/darknet/data/dog.jpg"
RUN_S = 45


def start_camera(port, log):
    """The RTSP server; returns once it listens."""
    proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "rtsp_server.py"), PHOTO, str(port)],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    if not ready or proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise SystemExit("FAIL: the RTSP server did not start (make deps installs gir1.2-gst-rtsp-server-1.0)")
    return proc


def main():
    tmp = tempfile.mkdtemp(prefix="cb_rtsp_")
    port = e2e.free_port()
    url = f"rtsp://127.0.0.1:{port}/cam"
    kerb = {"id": "kerb", "rule": "illegal_parking", "min_dwell_s": 3,
            "polygon": [[400, 0], [768, 0], [768, 300], [400, 300]]}
    with open(os.path.join(tmp, "cameras.json"), "w") as f:
        json.dump({"cameras": [
            {"id": "street", "lat": 22.72, "long": 114.25, "source": url, "every_s": 1, "offline_after_s": 8,
             "zones": [kerb]},
            {"id": "yard", "lat": 22.71, "long": 114.24, "source": PHOTO, "every_s": 1}]}, f)
    server_log = open(os.path.join(tmp, "rtsp.log"), "w")
    camera = start_camera(port, server_log)
    run = subprocess.Popen([BIN, "vision", "run", "--cameras", os.path.join(tmp, "cameras.json"),
                            "--seconds", str(RUN_S), "--json",
                            "--model", os.path.join(ROOT, "build", "models", "centernet.onnx")],
                           stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "run.log"), "w"), text=True)
    lines = []
    killed_ms = None
    restarted = False
    deadline = time.time() + RUN_S + 60
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([run.stdout], [], [], 0.5)
            if ready:
                line = run.stdout.readline()
                if not line:
                    break
                lines.append(json.loads(line))
                if killed_ms is None and lines[-1].get("kind") == "illegal_parking":
                    camera.kill()  # SIGKILL: the stream stops mid-frame, as a camera losing power does
                    camera.wait()
                    killed_ms = int(time.time() * 1000)
                    print("the stream's car filed its event; the RTSP server is killed", flush=True)
            if killed_ms is not None and not restarted and time.time() * 1000 - killed_ms > 14000:
                camera = start_camera(port, server_log)
                restarted = True
                print("the RTSP server is back on the same port", flush=True)
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
        camera.kill()
    events = [x for x in lines if "kind" in x]
    status = next((x["status"] for x in lines if "status" in x), None)
    check(run.returncode == 0, f"vision run exited {run.returncode}: {open(os.path.join(tmp, 'run.log')).read()[-1500:]}")
    check(any(e["kind"] == "illegal_parking" and e["camera"] == "street" for e in events),
          f"the RTSP stream filed no illegal_parking event: {events}")
    check(killed_ms is not None and restarted, "the outage was not staged")
    offline = [e for e in events if e["kind"] == "camera_offline" and e["camera"] == "street"]
    check(len(offline) == 1 and killed_ms is not None and offline[0]["t_ms"] >= killed_ms,
          f"the dead stream was not reported offline once, after the kill: {offline}")
    check(status is not None, "no status line")
    if status:
        cams = {c["id"]: c for c in status["cameras"]}
        feeds = {f["camera"]: f for f in status["feeds"]["feeds"]}
        check(feeds["street"]["source"] == "stream", f"the RTSP camera is not read as a stream: {feeds['street']}")
        check(feeds["street"]["errors"] >= 5, f"the outage's failed samples were not counted: {feeds['street']}")
        check(cams["street"]["health"] == "ok", f"the stream's camera did not recover: {cams['street']}")
        # Frames before the kill and after the restart: more than either stretch alone gives.
        check(cams["street"]["frames"] >= 12, f"the stream's frames did not resume: {cams['street']}")
        check(feeds["yard"]["pulled"] >= RUN_S - 8, f"the file camera was held up by the dead stream: {feeds['yard']}")
        print(f"stream: {feeds['street']['pulled']} samples, {cams['street']['frames']} frames, "
              f"{feeds['street']['errors']} failed; file camera: {feeds['yard']['pulled']} samples", flush=True)
    if FAILED:
        sys.exit(1)
    print("rtsp_e2e: OK")


if __name__ == "__main__":
    main()
