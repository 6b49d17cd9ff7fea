#!/usr/bin/env node
// The oracle of dlm's hf tokenizer tests: Hugging Face's own tokenizers (npm `tokenizers`,
// installed by scripts/npm_deps.sh into .npm-deps/).
//   node hf_oracle.js ids TOKENIZER_JSON STRINGS.jsonl OUT.jsonl
//     one JSON list of ids a line for each JSON string a line (no post-processor ids:
//     addSpecialTokens false; special tokens written in the text become their ids)
//   node hf_oracle.js bench TOKENIZER_JSON TEXT_FILE [REPEATS] [lines]
//     encodes the file as one string (or, with `lines`, each line apart in one
//     encodeBatch call: set TOKENIZERS_PARALLELISM=false for one thread); prints
//     "bytes tokens seconds" of the best repeat
'use strict';
const fs = require('fs');
const path = require('path');

function loadTokenizers() {
  const deps = process.env.DLM_NPM_DEPS || path.join(__dirname, '..', '..', '.npm-deps');
  try {
    return require(path.join(deps, 'node_modules', 'tokenizers'));
  } catch (e) {
    console.error(`hf_oracle: cannot load npm tokenizers from ${deps} (${e.message}); run scripts/npm_deps.sh`);
    process.exit(3);
  }
}

async function ids(tokenizer, input, output) {
  const strings = fs.readFileSync(input, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
  const lines = [];
  const batch = 512;
  for (let i = 0; i < strings.length; i += batch) {
    const encodings = await tokenizer.encodeBatch(strings.slice(i, i + batch), { addSpecialTokens: false });
    for (const e of encodings) lines.push(JSON.stringify(e.getIds()));
  }
  fs.writeFileSync(output, lines.join('\n') + '\n');
}

async function bench(tokenizer, file, repeats, lines) {
  const text = fs.readFileSync(file, 'utf8');
  const parts = text.split('\n').filter((l) => l.length > 0);
  let best = Infinity;
  let tokens = 0;
  for (let r = 0; r < repeats; ++r) {
    const start = process.hrtime.bigint();
    if (lines) {
      const encodings = await tokenizer.encodeBatch(parts, { addSpecialTokens: false });
      tokens = encodings.reduce((n, e) => n + e.getIds().length, 0);
    } else {
      const e = await tokenizer.encode(text, null, { addSpecialTokens: false });
      tokens = e.getIds().length;
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    best = Math.min(best, seconds);
  }
  console.log(`${Buffer.byteLength(text, 'utf8')} ${tokens} ${best}`);
}

async function main() {
  const [mode, tokenizerJson, a, b, c] = process.argv.slice(2);
  if (!['ids', 'bench'].includes(mode) || !tokenizerJson || !a) {
    console.error('usage: hf_oracle.js ids TOKENIZER_JSON STRINGS.jsonl OUT.jsonl | bench TOKENIZER_JSON TEXT [REPEATS]');
    process.exit(2);
  }
  const { Tokenizer } = loadTokenizers();
  const tokenizer = Tokenizer.fromFile(tokenizerJson);
  if (mode === 'ids') await ids(tokenizer, a, b);
  else await bench(tokenizer, a, Number(b || 3), c === 'lines');
}

main().catch((e) => {
  console.error(`hf_oracle: ${e.message}`);
  process.exit(1);
});
