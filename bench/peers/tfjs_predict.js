// TF.js reference for nn/tfjs: runs a layers model (model.json + .bin
// shards) on inputs written by graft's test as raw little-endian float32
// NHWC, with @tensorflow/tfjs's pure-JS CPU backend, and prints the
// outputs as JSON.
//
//   npm install --ignore-scripts @tensorflow/tfjs@4.22.0   (in $HOME/.cache/graft/node)
//   node bench/peers/tfjs_predict.js MODEL.json INPUT.f32 N H W C > out.json
//
// The model is loaded through an in-memory IO handler: model.json is
// read with JSON.parse and the shards as bytes; nothing is evaluated.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const tf = require(process.env.TFJS || path.join(os.homedir(), '.cache/graft/node/node_modules/@tensorflow/tfjs'));

async function main() {
  const [modelPath, inputPath, n, h, w, c] = process.argv.slice(2);
  const mj = JSON.parse(fs.readFileSync(modelPath, 'utf8'));
  const dir = path.dirname(modelPath);
  const specs = [];
  const bufs = [];
  for (const g of mj.weightsManifest) {
    specs.push(...g.weights);
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  await tf.setBackend('cpu');
  const model = await tf.loadLayersModel({
    load: async () => ({ modelTopology: mj.modelTopology, weightSpecs: specs, weightData, format: mj.format }),
  });
  const raw = fs.readFileSync(inputPath);
  const x = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const shape = [+n, +h, +w, +c];
  const y = model.predict(tf.tensor(x, shape));
  const out = { backend: tf.getBackend(), version: tf.version.tfjs, shape: y.shape, output: Array.from(await y.data()) };
  process.stdout.write(JSON.stringify(out) + '\n');
}
main().catch((e) => { console.error(e); process.exit(1); });
