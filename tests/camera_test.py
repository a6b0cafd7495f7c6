#!/usr/bin/env python3
"""The cameras end to end over HTTP: `citybrain serve --cameras` with a registry of one camera whose zone forbids
parking. Frames of Debian's darknet dog.jpg (a bicycle, a dog and a parked car) are pushed to
/api/v1/cameras/cam-1/frames; after three frames the car is a confirmed, still track and the zone's rule files an
illegal_parking case through the intake, with the snapshot's address. Bad frames (empty, truncated, not an image),
an unknown camera and a key without the device role are refused by field and counted. Beside it, a camera whose
source is a file is pulled by the brain once a second and files its own parking case, and a camera that never sends
a frame becomes a camera_fault case for the department that keeps the cameras.
Usage: camera_test.py CITYBRAIN
"""
import json
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402
from e2e import check, finish  # noqa: E402

BIN = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEVICE = "camera-gateway-key-0123456789"
OPERATOR = "operator-key-0123456789ab"
APP = "citizen-app-key-0123456789"
PHOTO = "/usr/share/darknet/data/dog.jpg"


def call(port, method, path, body=b"", key=DEVICE, content_type="image/jpeg"):
    return e2e.call(port, method, path, body if method == "POST" else None, key, content_type)


def main():
    tmp = tempfile.mkdtemp(prefix="cb_camera_")
    with open(os.path.join(tmp, "keys.txt"), "w") as f:
        f.write(f"{DEVICE} cameras device\n{OPERATOR} ops operator\n{APP} app report\n")
    with open(os.path.join(tmp, "cameras.json"), "w") as f:
        json.dump({"cameras": [{"id": "cam-1", "lat": 22.7208, "long": 114.2466, "watches": "龙岗大道与吉祥路交叉口",
                                "priority": 1, "zones": [{"id": "no-parking", "rule": "illegal_parking",
                                                          "polygon": [[0, 0], [2000, 0], [2000, 2000], [0, 2000]],
                                                          "min_dwell_s": 0}]},
                               {"id": "cam-pulled", "lat": 22.7508, "long": 114.2966, "watches": "布吉街道",
                                "source": PHOTO, "every_s": 1, "priority": 1,
                                "zones": [{"id": "kerb", "rule": "illegal_parking", "min_dwell_s": 0,
                                           "polygon": [[0, 0], [2000, 0], [2000, 2000], [0, 2000]]}]},
                               {"id": "cam-silent", "lat": 22.7008, "long": 114.2166, "watches": "坂田街道",
                                "offline_after_s": 3}]}, f, ensure_ascii=False)
    port = e2e.free_port()
    proc = e2e.start([BIN, "serve", "--port", str(port), "--db", os.path.join(tmp, "cases.db"),
                      "--conversations", os.path.join(tmp, "conversations.db"),
                      "--keys-file", os.path.join(tmp, "keys.txt"),
                      "--cameras", os.path.join(tmp, "cameras.json"),
                      "--snapshots", os.path.join(tmp, "shots"),
                      "--detector-model", os.path.join(ROOT, "build", "models", "centernet.onnx")],
                     port, os.path.join(tmp, "serve.log"))
    try:
        photo = open(PHOTO, "rb").read()
        frames = "/api/v1/cameras/cam-1/frames"

        # Refusals, each by field, none of them crashing the pipeline.
        st, r = call(port, "POST", frames, b"")
        check(st == 400 and r.get("field") == "frame" and "empty" in r.get("message", ""), f"empty frame: {st} {r}")
        st, r = call(port, "POST", frames, photo[: len(photo) // 2])
        check(st == 400 and r.get("field") == "frame" and "truncated" in r.get("message", ""),
              f"truncated frame: {st} {r}")
        st, r = call(port, "POST", frames, b"GIF89a not what we take")
        check(st == 400 and r.get("field") == "frame", f"not an image: {st} {r}")
        st, r = call(port, "POST", "/api/v1/cameras/cam-9/frames", photo)
        check(st == 404 and r.get("field") == "camera_id", f"unknown camera: {st} {r}")
        st, r = call(port, "POST", frames, photo, key=APP)
        check(st == 403 and r.get("field") == "api_key", f"a citizen app's key: {st} {r}")
        # Over 8 MB: refused from the header's Content-Length, before the body is sent.
        with socket.create_connection(("127.0.0.1", port), 10) as raw:
            raw.sendall((f"POST {frames} HTTP/1.1\r\nHost: x\r\nX-API-Key: {DEVICE}\r\n"
                         f"Content-Type: image/jpeg\r\nContent-Length: {9 * 1024 * 1024}\r\n\r\n").encode())
            head = raw.recv(4096).decode(errors="replace")
        check(head.startswith("HTTP/1.1 413"), f"a frame over 8 MB: {head[:200]}")

        # Three frames: the parked car becomes a confirmed track that has not moved, and the zone fires.
        events = []
        for i in range(3):
            st, r = call(port, "POST", frames, photo)
            check(st in (200, 201), f"frame {i}: {st} {r}")
            check(r.get("detections", 0) >= 3, f"frame {i} detections: {r}")
            events += r.get("events", [])
        check(len(events) == 1, f"one event after three frames: {events}")
        if events:
            e = events[0]
            check(e.get("kind") == "illegal_parking" and e.get("category") == "illegal_parking",
                  f"the event's kind and category: {e}")
            check(e.get("case_id", 0) > 0 and e.get("media_url", "").startswith("/api/v1/snapshots/"),
                  f"a case with a snapshot: {e}")
            st, case = call(port, "GET", f"/api/v1/cases/{e.get('case_id')}", key=OPERATOR)
            check(st == 200 and case.get("category") == "illegal_parking", f"the case: {st} {case}")
            check("龙岗大道" in json.dumps(case, ensure_ascii=False), f"the case's place: {case}")
            st, shot = call(port, "GET", e.get("media_url", "/none"), key=OPERATOR)
            check(st == 200 and isinstance(shot, bytes) and shot[:2] == b"\xff\xd8", f"the snapshot: {st}")
            st, r = call(port, "GET", "/api/v1/snapshots/..%2Fcases.db", key=OPERATOR)
            check(st == 404, f"a path outside the snapshots: {st} {r}")
        # The zone fired once for this episode: the car still there is not a second case.
        st, r = call(port, "POST", frames, photo)
        check(st == 200 and r.get("events") == [], f"the same car again: {st} {r}")

        st, r = call(port, "GET", "/api/v1/cameras", key=OPERATOR)
        cam = (r.get("cameras") or [{}])[0]
        check(st == 200 and cam.get("frames") == 7 and cam.get("bad_frames") == 3 and cam.get("events") == 1,
              f"the camera's counts: {st} {r}")
        check(r.get("frames_for_unknown_cameras") == 1, f"the unknown camera's frame is counted: {r}")
        st, r = call(port, "GET", "/api/v1/cameras", key=DEVICE)
        check(st == 403, f"a device key cannot read the registry: {st}")

        # The pulled camera and the silent one, on the brain's own clock.
        deadline = time.time() + 30
        while time.time() < deadline:
            st, r = call(port, "GET", "/api/v1/cameras", key=OPERATOR)
            cams = {c["id"]: c for c in r.get("cameras", [])}
            if cams.get("cam-pulled", {}).get("events") and cams.get("cam-silent", {}).get("health") == "offline":
                break
            time.sleep(0.5)
        cams = {c["id"]: c for c in r.get("cameras", [])}
        check(cams.get("cam-pulled", {}).get("events") == 1, f"the pulled camera's event: {r}")
        check(cams.get("cam-silent", {}).get("health") == "offline" and cams["cam-silent"].get("health_events") == 1,
              f"the silent camera is offline: {r}")
        feeds = r.get("feeds", {}).get("feeds", [])
        check(len(feeds) == 1 and feeds[0].get("camera") == "cam-pulled" and feeds[0].get("source") == "image"
              and feeds[0].get("pulled", 0) >= 3 and feeds[0].get("errors") == 0, f"the feed: {r.get('feeds')}")
        time.sleep(1)  # the intake commits its batch
        st, faults = call(port, "GET", "/open311/v2/requests.json?service_code=camera_fault", key=OPERATOR)
        check(st == 200 and len(faults) == 1 and "坂田街道" in json.dumps(faults, ensure_ascii=False),
              f"one camera_fault case at the silent camera: {st} {faults}")
        st, parking = call(port, "GET", "/open311/v2/requests.json?service_code=illegal_parking", key=OPERATOR)
        check(st == 200 and len(parking) == 2, f"two parking cases, one pushed and one pulled: {st} {parking}")
    finally:
        proc.terminate()
        proc.wait(10)
    return finish("camera_test")


if __name__ == "__main__":
    sys.exit(main())
