// Runs an exported model with ONNX Runtime (onnxruntime-node, installed here by
// `scripts/setup --bench` from package.json) for the export tests:
//   node run_onnx.js MODEL.onnx INPUTS.json OUT.json
// INPUTS.json: {"<input name>": {"dtype": "float32" | "int64", "dims": [...], "data": [...]}, ...}
// OUT.json: {"probability": [...], "dims": [...]}. Exit 77 (a test's "skipped") when
// onnxruntime-node cannot be loaded, with the reason on stderr.
'use strict';
const fs = require('fs');

async function main() {
  const [model, inputsPath, outPath] = process.argv.slice(2);
  if (!outPath) {
    console.error('usage: node run_onnx.js MODEL.onnx INPUTS.json OUT.json');
    process.exit(2);
  }
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    console.error(`onnxruntime-node cannot be loaded (scripts/setup --bench installs it): ${e.message}`);
    process.exit(77);
  }
  const spec = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
  const feeds = {};
  for (const [name, input] of Object.entries(spec)) {
    const data = input.dtype === 'int64' ? BigInt64Array.from(input.data.map(BigInt)) : Float32Array.from(input.data);
    feeds[name] = new ort.Tensor(input.dtype, data, input.dims);
  }
  const session = await ort.InferenceSession.create(model);
  const result = await session.run(feeds);
  const p = result.probability;
  fs.writeFileSync(outPath, JSON.stringify({probability: Array.from(p.data), dims: p.dims}));
}

main().catch((e) => {
  console.error(`run_onnx.js: ${e.message}`);
  process.exit(1);
});
