#!/usr/bin/python3
"""A real RTSP camera on loopback for the vision tests: GStreamer's RTSP server (Debian's gir1.2-gst-rtsp-server-1.0)
streams a JPEG picture as Motion-JPEG over RTP (RFC 2435) at 5 frames a second, decoded and re-encoded each frame
as a camera's encoder would. Prints "ready" once it listens. Usage: rtsp_server.py PICTURE.jpg PORT [MOUNT]
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    picture, port = sys.argv[1], sys.argv[2]
    mount = sys.argv[3] if len(sys.argv) > 3 else "/cam"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    # rtpjpegpay takes baseline 4:2:0 JPEG only; darknet's photos are not all that, hence decode and encode.
    factory.set_launch(f'( multifilesrc location="{picture}" loop=true caps="image/jpeg,framerate=5/1" ! jpegdec ! '
                       'videoconvert ! video/x-raw,format=I420 ! jpegenc ! rtpjpegpay name=pay0 pt=26 )')
    factory.set_shared(True)
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
