#!/usr/bin/env node
// Builds the native kernel addon (build/Release/multitask_native.node) with the
// node-gyp that ships inside npm. Never fails the install: if anything goes wrong it
// prints one line and exits 0, and the package runs on its TypeScript kernels.
//
//   node scripts/build-native.mjs            build (npm runs this as the install script)
//   MULTITASK_SKIP_NATIVE=1                  skip the build
//   MULTITASK_NATIVE_VERBOSE=1               show the compiler output
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const verbose = process.env.MULTITASK_NATIVE_VERBOSE === '1';

function giveUp(reason) {
  console.log(`multitask: native kernels not built (${reason}); using the TypeScript kernels`);
  process.exit(0);
}

/** node-gyp's CLI script: npm's own copy first (npm 11 bundles it), then a local one. */
function findNodeGyp() {
  const candidates = [];
  // npm_execpath is npm-cli.js when run from an npm script: <npm>/bin/npm-cli.js.
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  // The npm installed next to this node binary (<prefix>/bin/node → <prefix>/lib/node_modules/npm).
  candidates.push(path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(createRequire(path.join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  return candidates.find((p) => existsSync(p));
}

/** Node's headers: npm's configured nodedir, else the headers next to this node binary. */
function findNodeDir() {
  const configured = process.env.npm_config_nodedir;
  if (configured && existsSync(path.join(configured, 'include', 'node', 'node_api.h'))) return configured;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  return configured; // let node-gyp try (it may download headers if it can)
}

function lastErrorLine(output) {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => /error[: ]/i.test(l) && !/^gyp (ERR|info)/.test(l) && !/not ok$/.test(l))
    ?? lines.find((l) => /^gyp ERR! stack Error:/.test(l))
    ?? lines.at(-1);
  return (err ?? 'unknown error').replace(/^gyp ERR! stack /, '').slice(0, 200);
}

function main() {
  if (process.env.MULTITASK_SKIP_NATIVE === '1') giveUp('MULTITASK_SKIP_NATIVE=1');
  if (!existsSync(path.join(root, 'binding.gyp'))) giveUp('binding.gyp missing');
  try {
    createRequire(path.join(root, 'package.json')).resolve('node-addon-api');
  } catch {
    giveUp('node-addon-api is not installed');
  }

  const nodeGyp = findNodeGyp();
  const nodeDir = findNodeDir();
  const gypArgs = ['rebuild', '--release', '--jobs=max', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
  const [cmd, args] = nodeGyp
    ? [process.execPath, [nodeGyp, ...gypArgs]]
    : ['npm', ['exec', '--yes=false', '--', 'node-gyp', ...gypArgs]];

  const started = Date.now();
  const res = spawnSync(cmd, args, {
    cwd: root,
    encoding: 'utf8',
    stdio: verbose ? 'inherit' : 'pipe',
    shell: !nodeGyp && process.platform === 'win32',
  });
  if (res.error) giveUp(`${nodeGyp ? 'node-gyp' : 'npm exec node-gyp'} could not run: ${res.error.message}`);
  if (res.status !== 0) {
    giveUp(verbose ? `node-gyp exited with ${res.status}` : lastErrorLine(`${res.stdout ?? ''}\n${res.stderr ?? ''}`));
  }
  const built = path.join(root, 'build', 'Release', 'multitask_native.node');
  if (!existsSync(built)) giveUp('node-gyp succeeded but build/Release/multitask_native.node is missing');
  console.log(`multitask: native kernels built in ${((Date.now() - started) / 1000).toFixed(1)} s (${path.relative(root, built)})`);
}

main();
