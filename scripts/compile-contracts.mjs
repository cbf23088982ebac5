#!/usr/bin/env node
// Compiles the Solidity sources in internal/devnet/contracts/*.sol with
// solc-js 0.8.37 and writes internal/devnet/contracts/compiled.json (ABI
// and creation bytecode per contract), which the Go package devnet embeds.
// Go tests never need node; run this only after editing a contract:
//
//   d=$(mktemp -d) && (cd "$d" && npm install --no-save solc@0.8.37) &&
//   NODE_PATH="$d/node_modules" node scripts/compile-contracts.mjs
//
// solc-js ships its compiler (soljson.js) inside the npm package, so this
// runs offline once installed. The output is deterministic: same sources,
// same compiler, same bytes.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const wantVersion = "0.8.37";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = join(root, "internal", "devnet", "contracts");
const out = join(dir, "compiled.json");

// createRequire honours NODE_PATH, so solc can live in a temporary dir.
const require = createRequire(import.meta.url);
let solc;
try {
  solc = require("solc");
} catch (err) {
  console.error(`cannot load npm package solc (${err.message});\ninstall it with: npm install --no-save solc@${wantVersion} in a temporary directory and set NODE_PATH to its node_modules`);
  process.exit(2);
}
const version = solc.version();
if (!version.startsWith(wantVersion + "+")) {
  console.error(`solc ${version} found, want ${wantVersion}: the committed bytecode must not depend on who compiled it`);
  process.exit(2);
}

const sources = {};
for (const f of readdirSync(dir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[f] = { content: readFileSync(join(dir, f), "utf8") };
}
if (Object.keys(sources).length === 0) {
  console.error(`no .sol files in ${dir}`);
  process.exit(2);
}

const settings = {
  // cancun: PUSH0 and MCOPY, accepted by geth --dev and every current network.
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
};
const input = { language: "Solidity", sources, settings };
const output = JSON.parse(solc.compile(JSON.stringify(input)));

let failed = false;
for (const e of output.errors ?? []) {
  // selfdestruct is deprecated since 0.8.18: Child uses it on purpose.
  if (e.severity === "warning" && /selfdestruct/.test(e.message)) continue;
  console.error(e.formattedMessage ?? e.message);
  if (e.severity === "error") failed = true;
}
if (failed) process.exit(1);

const contracts = {};
for (const file of Object.keys(output.contracts ?? {}).sort()) {
  for (const name of Object.keys(output.contracts[file]).sort()) {
    if (contracts[name]) {
      console.error(`contract ${name} defined twice`);
      process.exit(1);
    }
    const c = output.contracts[file][name];
    contracts[name] = { source: file, abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
  }
}
const sorted = {};
for (const name of Object.keys(contracts).sort()) sorted[name] = contracts[name];
const doc = {
  compiler: "solc " + version,
  settings: { evmVersion: settings.evmVersion, optimizer: settings.optimizer },
  // sha256 of each source, so a Go test can tell that compiled.json is stale.
  sources: Object.fromEntries(
    Object.entries(sources).map(([f, s]) => [f, createHash("sha256").update(s.content).digest("hex")]),
  ),
  contracts: sorted,
};
writeFileSync(out, JSON.stringify(doc, null, 2) + "\n");
console.log(`wrote ${out}: ${Object.keys(contracts).join(", ")}`);
