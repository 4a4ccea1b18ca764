// Writes nn/tfjs's small fixtures with @tensorflow/tfjs (pure-JS CPU
// backend): two Keras models built in TF.js, one functional ("mix":
// every layer class the importer reads, odd sizes so that "same" pads
// asymmetrically) and one Sequential ("seq"), each saved as model.json +
// weights.bin with float32 weights and again with uint8/uint16-quantized
// weights, with TF.js's outputs on a seeded input.
//
//   node testdata/tfjs/gen.js     (tfjs from $HOME/.cache/graft/node, or $TFJS)
//
// Each fixture is a folder NAME/ holding model.json, weights.bin and
// ref.json ({input, input_shape, output, output_shape}).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const tf = require(process.env.TFJS || path.join(os.homedir(), '.cache/graft/node/node_modules/@tensorflow/tfjs'));

// A small LCG, so the fixtures do not depend on Math.random.
let state = 12345;
function rand() {
  state = (state * 1103515245 + 12345) % 2147483648;
  return state / 2147483648;
}
function randn(n, scale) {
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
}

function mix() {
  const L = tf.layers;
  const x = tf.input({ shape: [13, 11, 3], name: 'img' });
  const pad = L.zeroPadding2d({ padding: [[1, 2], [0, 1]], name: 'pad' }).apply(x);
  const c1 = L.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv_s2' }).apply(pad);
  const bn = L.batchNormalization({ name: 'bn', epsilon: 0.01 }).apply(c1);
  const r6 = L.reLU({ maxValue: 6, name: 'relu6' }).apply(bn);
  const dw = L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: true, name: 'dw' }).apply(r6);
  const proj = L.conv2d({ filters: 16, kernelSize: 1, name: 'proj' }).apply(r6);
  const add = L.add({ name: 'add' }).apply([dw, proj]);
  const sep = L.separableConv2d({ filters: 12, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', name: 'sep' }).apply(add);
  const dil = L.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'sigmoid', name: 'dil' }).apply(add);
  const mp = L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'maxpool' }).apply(dil);
  const cat = L.concatenate({ name: 'cat' }).apply([sep, mp]);
  const clip = L.reLU({ maxValue: 3, name: 'clip3' }).apply(cat);
  const gap = L.globalAveragePooling2d({ name: 'gap' }).apply(clip);
  const avg = L.averagePooling2d({ poolSize: 2, strides: 1, padding: 'valid', name: 'avg' }).apply(clip);
  const flat = L.flatten({ name: 'flat' }).apply(avg);
  const fcf = L.dense({ units: 10, name: 'fc_flat' }).apply(flat);
  const cat2 = L.concatenate({ name: 'cat2' }).apply([gap, fcf]);
  const drop = L.dropout({ rate: 0.3, name: 'drop' }).apply(cat2);
  const fc1 = L.dense({ units: 8, activation: 'relu', name: 'fc1' }).apply(drop);
  const rs = L.reshape({ targetShape: [1, 1, 8], name: 'rs' }).apply(fc1);
  const flat2 = L.flatten({ name: 'flat2' }).apply(rs);
  const hs = L.activation({ activation: 'hardSigmoid', name: 'hs' }).apply(flat2);
  const sm = L.softmax({ name: 'sm' }).apply(hs);
  const out = L.dense({ units: 5, name: 'out' }).apply(L.concatenate({ name: 'cat3' }).apply([hs, sm]));
  return tf.model({ inputs: x, outputs: out, name: 'mix' });
}

function seq() {
  const m = tf.sequential({ name: 'seq' });
  m.add(tf.layers.conv2d({ inputShape: [9, 9, 2], filters: 4, kernelSize: 3, activation: 'relu', name: 'c1' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }));
  m.add(tf.layers.flatten({ name: 'f' }));
  m.add(tf.layers.dense({ units: 3, name: 'd' }));
  return m;
}

// randomise gives every weight seeded values; variances positive.
function randomise(model) {
  for (const l of model.layers) {
    const ws = l.getWeights();
    if (ws.length === 0) continue;
    l.setWeights(ws.map((w, i) => {
      const name = l.weights[i].name;
      const v = randn(w.size, 0.5);
      if (name.includes('moving_variance')) v.forEach((x, j) => { v[j] = 0.5 + Math.abs(x); });
      return tf.tensor(v, w.shape);
    }));
  }
}

// quantize rewrites float32 weights as uint8 (even index) or uint16 (odd)
// with tfjs-converter's affine scheme.
function quantize(specs, data) {
  const f = new Float32Array(data);
  const out = [];
  const qspecs = [];
  let off = 0;
  specs.forEach((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const w = f.subarray(off, off + n);
    off += n;
    const bits = i % 2 === 0 ? 8 : 16;
    let lo = Math.min(...w), hi = Math.max(...w);
    const scale = hi > lo ? (hi - lo) / (2 ** bits - 1) : 1;
    const q = bits === 8 ? new Uint8Array(n) : new Uint16Array(n);
    w.forEach((x, j) => { q[j] = Math.round((x - lo) / scale); });
    out.push(Buffer.from(q.buffer));
    qspecs.push({ ...s, quantization: { dtype: bits === 8 ? 'uint8' : 'uint16', min: lo, scale } });
  });
  return [qspecs, Buffer.concat(out)];
}

async function save(model, dir, quantized, shape) {
  let art;
  await model.save(tf.io.withSaveHandler(async (a) => { art = a; return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
  let specs = art.weightSpecs;
  let data = Buffer.from(art.weightData);
  if (quantized) [specs, data] = quantize(specs, art.weightData);
  fs.mkdirSync(dir, { recursive: true });
  const mj = { format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v' + tf.version.tfjs, convertedBy: null,
    modelTopology: art.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: specs }] };
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(mj));
  fs.writeFileSync(path.join(dir, 'weights.bin'), data);
  // The reference runs the model as TF.js loads it from these files.
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  const loaded = await tf.loadLayersModel({ load: async () => ({ modelTopology: art.modelTopology, weightSpecs: specs, weightData: ab }) });
  const input = randn(shape.reduce((a, b) => a * b, 1), 1);
  const y = loaded.predict(tf.tensor(input, shape));
  fs.writeFileSync(path.join(dir, 'ref.json'), JSON.stringify({ input: Array.from(input), input_shape: shape,
    output: Array.from(await y.data()), output_shape: y.shape }) + '\n');
}

async function main() {
  await tf.setBackend('cpu');
  const here = __dirname;
  for (const [name, make, shape] of [['mix', mix, [2, 13, 11, 3]], ['seq', seq, [2, 9, 9, 2]]]) {
    const m = make();
    randomise(m);
    await save(m, path.join(here, name), false, shape);
    await save(m, path.join(here, name + '_q'), true, shape);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
