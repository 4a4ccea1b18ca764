// ONNX Runtime (CPU execution provider) as graft's reference runtime and
// inference-speed peer for imported ONNX models.
//
//   node bench/peers/ort.js run MODEL IN.bin N,C,H,W OUT.bin
//       runs the model on the float32 little-endian NCHW input and writes the
//       first output as float32 (graft's ONNX parity tests call this)
//   node bench/peers/ort.js bench MODEL N,C,H,W THREADS SECONDS
//       prints images/s of repeated runs on random input, one line of JSON
//
// onnxruntime-node 1.30.0 is looked up in $GRAFT_ORT, else
// ~/.cache/graft/ort/node_modules/onnxruntime-node (installed by .ci/run:
// npm install --ignore-scripts onnxruntime-node@1.30.0).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const ortDir = process.env.GRAFT_ORT || path.join(os.homedir(), '.cache', 'graft', 'ort', 'node_modules', 'onnxruntime-node');
const ort = require(ortDir);

function shapeOf(s) {
  return s.split(',').map((v) => parseInt(v, 10));
}

async function session(model, threads) {
  return ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

async function run(model, inFile, shape, outFile) {
  const s = await session(model, 1);
  const buf = fs.readFileSync(inFile);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const res = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', Float32Array.from(x), shape) });
  const y = res[s.outputNames[0]];
  fs.writeFileSync(outFile, Buffer.from(new Float32Array(y.data).buffer));
  console.log(JSON.stringify({ output: s.outputNames[0], dims: y.dims }));
}

async function bench(model, shape, threads, seconds) {
  const s = await session(model, threads);
  const n = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.random() * 2 - 1;
  const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', x, shape) };
  await s.run(feeds); // warm up
  await s.run(feeds);
  const times = [];
  const end = Date.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  while (Date.now() < end || times.length < 3) {
    const t0 = process.hrtime.bigint();
    await s.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const cpu = process.cpuUsage(cpu0); // µs of the whole process, every thread
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  // cpu_images_per_s (at 1 thread) is images per second of the process's
  // CPU time, as graft's cpu_images/s: steadier on a shared machine.
  console.log(JSON.stringify({ peer: 'onnxruntime-node', version: ort.env.versions ? ort.env.versions.common : '', model: path.basename(model),
    batch: shape[0], threads, runs: times.length, median_s: median, images_per_s: shape[0] / median,
    cpu_images_per_s: shape[0] * times.length / ((cpu.user + cpu.system) / 1e6) }));
}

async function main() {
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'run' && a.length === 4) return run(a[0], a[1], shapeOf(a[2]), a[3]);
  if (cmd === 'bench' && a.length === 4) return bench(a[0], shapeOf(a[1]), parseInt(a[2], 10), parseFloat(a[3]));
  console.error('usage: ort.js run MODEL IN.bin N,C,H,W OUT.bin | ort.js bench MODEL N,C,H,W THREADS SECONDS');
  process.exit(2);
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
