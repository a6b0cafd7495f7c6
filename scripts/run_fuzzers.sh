#!/usr/bin/env bash
# Runs each libFuzzer target for a short time (CI) from a seed corpus made of the test scenarios.
# Usage: scripts/run_fuzzers.sh BUILD_DIR SECONDS
set -euo pipefail
build=${1:-build/dev}
seconds=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/roadnet" "$work/flow"
cp "$root/tests/scenarios/tiny/roadnet.json" "$work/roadnet/"
cp "$root/tests/scenarios/tiny/flow.json" "$work/flow/"
echo '[{"vehicle":{"length":5,"width":2,"maxPosAcc":2,"maxNegAcc":4.5,"usualPosAcc":2,"usualNegAcc":4.5,"minGap":2.5,"maxSpeed":11,"headwayTime":2},"route":["road_0_1_0","road_1_1_0","road_2_1_0"],"interval":5,"startTime":0,"endTime":30}]' >"$work/flow/grid.json"
mkdir -p "$work/csv" "$work/form" "$work/taxonomy" "$work/api"
printf 'Unique Key,Created Date,Complaint Type,Latitude,Longitude\n1,02/28/2023 11:45:00 PM,Noise,40.7,-73.9\n2,"02/28/2023 11:46:00 PM","Illegal ""Parking""",,\n' >"$work/csv/nyc.csv"
printf 'api_key=x&service_code=noise&lat=22.7&long=114.2&description=%%E7%%A7%%AF+water' >"$work/form/post.txt"
printf '2023-02-28T23:45:00.123+08:00' >"$work/form/time.txt"
cp "$root/config/taxonomy.json" "$work/taxonomy/"
printf 'POST\n/open311/v2/requests.json\napplication/x-www-form-urlencoded\nservice_code=noise&lat=22.72&long=114.24&description=x' >"$work/api/post.txt"
printf 'GET\n/open311/v2/requests.xml?status=open&start_date=2020-01-01T00:00:00Z\n\n' >"$work/api/get.txt"
printf 'POST\n/api/v1/cases/1/transitions\napplication/json\n{"action":"file","actor":"a"}' >"$work/api/tr.txt"
printf 'GET\n/api/v1/cases?status=reported&limit=5&since=2020-01-01T00:00:00Z\n\n' >"$work/api/cases.txt"
mkdir -p "$work/sumo"
printf '<edges><edge id="e1" from="a" to="b" speed="10"/><edge id="e2" from="b" to="c" speed="13.9" shape="100,0 100,100"/><edge id="e3" from="c" to="d" speed="5" length="120"/><edge id="e4" from="a" to="d" speed="8" disallow="passenger"/></edges>' >"$work/sumo/edges.xml"
mkdir -p "$work/vrp"
head -n 20 "$root/tests/scenarios/vrp/tiny.txt" >"$work/vrp/tiny.txt"
mkdir -p "$work/pinyin"
printf '请不要占道经营，谢谢配合。3号路口APP' >"$work/pinyin/notice.txt"
mkdir -p "$work/nlp"
printf '道路積水很深，ＡＢＣ１２３ 請處理 https://x.y/z 学校门口' >"$work/nlp/msg.txt"
mkdir -p "$work/llm"
printf '{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":"您好，案件编号42已受理。"}}]}' >"$work/llm/answer.json"
printf 'http://127.0.0.1:8000/v1' >"$work/llm/url.txt"
mkdir -p "$work/device"
printf '\x00{"device":"cam-7","type":"camera","category":"street_vending","lat":22.72,"long":114.25,"confidence":0.9,"time":"2026-06-15T07:12:00+08:00","event_id":"e1"}' >"$work/device/event.json"
printf '\x02citybrain/units/u1/state\n{"seq":3,"node":"n2","speed_mps":1.5,"battery":0.8,"status":"onsite","task":"case-1"}' >"$work/device/state.txt"
printf '\x02citybrain/units/u1/ack\n{"seq":1,"order_id":"u1-1","status":"accepted"}' >"$work/device/ack.txt"
printf '\x03{"seq":1,"order_id":"u1-1","task":"case-1","target":"n2","notice":"请离开"}' >"$work/device/order.txt"
mkdir -p "$work/gateway"
printf '\x02{"model":"citybrain-local","stream":true,"messages":[{"role":"user","content":"井盖丢了"}]}' >"$work/gateway/chat.json"
printf '\x03{"model":"citybrain-local","input":["路灯","积水"],"encoding_format":"base64"}' >"$work/gateway/emb.json"
printf '\x00{"upstreams":[{"name":"a","url":"http://127.0.0.1:9/v1","models":["m"],"weight":2,"timeout_s":1}],"breaker":{"failures":3,"cooldown_s":5}}' >"$work/gateway/config.json"
printf '\x01data: {"a":1}\r\n\r\n: c\n\ndata: x\ndata: y\n\n' >"$work/gateway/sse.txt"
mkdir -p "$work/vision"
# A real JPEG (darknet's smallest photo, from Debian's package) and a one-pixel PNG.
[ -f /usr/share/darknet/data/scream.jpg ] && cp /usr/share/darknet/data/scream.jpg "$work/vision/"
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x00IEND\xaeB`\x82' >"$work/vision/one.png"
mkdir -p "$work/clinic"
printf '\x00孩子两岁，咳嗽三天了，不发烧，没有咳痰，烧到39.5度' >"$work/clinic/text.txt"
printf '\x01[{"disease":"A","explicit":{"咳嗽":true},"implicit":{"发热":false},"self_report":"3岁"},{"disease":"B","explicit":{"流涕":true}}]' >"$work/clinic/cases.json"
printf '\x01[{"disease":"A","self_report":"手上有疱疹"},{"disease":"B","self_report":"拉肚子，水样便"}]' >"$work/clinic/words.json"
printf '\x02{"symptoms":[{"name":"咳嗽","synonyms":["咳"]}],"negations":["不"]}' >"$work/clinic/vocab.json"
mkdir -p "$work/vault"
printf '\x00{"payload":"{\\"format\\":\\"citybrain-vault-request/1\\",\\"department\\":\\"i7L/2QAQen1pd7VAGXDwa6U8JcERUzZjFL5rdg5PSyA=\\",\\"grant\\":\\"3da936dd51de8048db68ed24e016325c\\",\\"fields\\":[\\"identity.name\\"],\\"purpose\\":\\"p\\",\\"case\\":\\"c\\",\\"nonce\\":\\"0123456789\\",\\"issued_ms\\":1000}","signature":"I/4LMNOHI9+W8GZza9w5d5SORmEfm692/1CORfW5MYePsYD5ZfgGhSAelD2wD2IptWMWgNq+NlbBSq4j3vKHDw=="}' >"$work/vault/request.json"
printf '\x01{"format":"citybrain-vault-grant/1","id":"3da936dd51de8048db68ed24e016325c","resident":"i7L/2QAQen1pd7VAGXDwa6U8JcERUzZjFL5rdg5PSyA=","department":"i7L/2QAQen1pd7VAGXDwa6U8JcERUzZjFL5rdg5PSyA=","department_name":"d","scope":["identity"],"purpose":"p","issued_ms":1,"expires_ms":2,"uses":1}' >"$work/vault/grant.json"
printf '\x02{"sealed":"AAAA","receipt":{"seq":1,"entry":"{}","prev":"00","hash":"00","signature":"AAAA","vault_key":"AAAA"}}' >"$work/vault/answer.json"
mkdir -p "$work/traffic_import"
printf '\x003\n30 120 0 1\n30.001 120 1 0\n30 120.001 2 0\n2\n0 1 100 10 2 2 1 2\n1 0 0 0 1 1\n1 0 0 0 1 1\n0 2 100 10 1 1 3 4\n0 1 1\n1 1 0\n1\n0 1 3 -1 -1\n' >"$work/traffic_import/roadnet.txt"
printf '\x012\n0 100 5\n2\n2 3\n10 50 7.5\n2\n4 1\n' >"$work/traffic_import/flow.txt"
printf '\x02<net><junction id="a" x="0" y="0"/><junction id="b" x="100" y="0" type="traffic_light"/><junction id="c" x="200" y="0"/><edge id="ab" from="a" to="b"><lane id="ab_0" index="0" speed="10" length="95"/><lane id="ab_1" index="1" speed="10" length="95" allow="bus"/></edge><edge id="bc" from="b" to="c"><lane id="bc_0" index="0" speed="10" length="95"/></edge><connection from="ab" to="bc" fromLane="0" toLane="0" dir="s" tl="b" linkIndex="0"/><tlLogic id="b"><phase duration="30" state="G"/><phase duration="3" state="y"/><phase duration="20" state="r"/></tlLogic></net>' >"$work/traffic_import/net.xml"
printf '\x03<routes><vType id="t" accel="2" decel="4.5" tau="1"/><route id="r" edges="ab bc"/><vehicle id="v" depart="0" route="r" type="t"/><trip id="w" depart="3" from="ab" to="bc"/><flow id="f" begin="0" end="60" vehsPerHour="600" from="ab" to="bc"/></routes>' >"$work/traffic_import/routes.xml"
cp "$root/config/traffic/signal_policy.json" "$work/traffic_import/policy.json" && sed -i '1s/^/\x04/' "$work/traffic_import/policy.json"
mkdir -p "$work/zones"
printf '\x00{"stream":"CITY","lease_ms":3000,"unit_service_ms":60000,"unit_speed_mps":8,"lend_reserve":1,"zones":[{"id":"z0","polygon":[[114.2,22.7],[114.3,22.7],[114.3,22.8],[114.2,22.8]],"units":[{"id":"z0-u1","lat":22.75,"lon":114.25}]}]}' >"$work/zones/config.json"
printf '\x01{"source":"camera","time_ms":1781478000000,"category":"street_vending","description":"摊贩","lat":22.72,"long":114.25,"confidence":0.9}' >"$work/zones/report.json"
printf '\x02{"case":"z0:12","until_ms":1781478000000}' >"$work/zones/unit.json"
mkdir -p "$work/model"
# A small detector-shaped ONNX model with each op the XNNPACK runtime reads (python3-onnx, installed by `make`).
/usr/bin/python3 - "$work/model/tiny.onnx" <<'PY'
import sys
import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

rng = np.random.default_rng(1)
w = lambda name, *dims: numpy_helper.from_array(rng.uniform(-0.5, 0.5, dims).astype(np.float32), name)
c = lambda name, *vals: numpy_helper.from_array(np.array(vals, dtype=np.float32), name)
nodes = [
    helper.make_node("Conv", ["images", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
    helper.make_node("Relu", ["c1"], ["r1"]),
    helper.make_node("Mul", ["sixth", "r1"], ["a"]),
    helper.make_node("Add", ["r1", "three"], ["b"]),
    helper.make_node("Clip", ["b"], ["cl"], min=0.0, max=6.0),
    helper.make_node("Mul", ["a", "cl"], ["hs"]),
    helper.make_node("GlobalAveragePool", ["hs"], ["gap"]),
    helper.make_node("Sigmoid", ["gap"], ["gate"]),
    helper.make_node("Mul", ["hs", "gate"], ["se"]),
    helper.make_node("Resize", ["se", "scales"], ["up"], mode="bilinear"),
    helper.make_node("Concat", ["up", "images"], ["cat"], axis=1),
    helper.make_node("MaxPool", ["cat"], ["mp"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("Conv", ["mp", "w2"], ["out"], kernel_shape=[1, 1], group=1),
]
graph = helper.make_graph(
    nodes, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
    [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 2, 32, 32])],
    [w("w1", 4, 3, 3, 3), w("b1", 4), c("sixth", 1 / 6), c("three", 3), c("scales", 1, 1, 2, 2), w("w2", 2, 7, 1, 1)])
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)]), sys.argv[1])
PY
for target in roadnet flow csv form taxonomy api sumo vrp pinyin nlp llm device gateway vision model clinic vault traffic_import zones; do
  echo "fuzzing ${target}_fuzz for ${seconds}s"
  max_len=65536
  [ "$target" = vision ] && max_len=262144  # a whole camera frame
  "$build/fuzz/${target}_fuzz" -artifact_prefix="$build/" -max_total_time="$seconds" -max_len=$max_len -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work/$target" 2>&1 | tail -n 3
done
