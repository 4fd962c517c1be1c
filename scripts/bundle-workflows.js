#!/usr/bin/env node
// Bundles the compiled workflow code once, at build time (`npm run build`), into
// dist/workflow-bundle.js: `start` loads it instead of running webpack on every start-up
// (10-20 s of CPU on a small machine). src/worker/workflow-bundle.ts decides when it is usable.
const fs = require('node:fs');
const path = require('node:path');
const { bundleWorkflowCode } = require('@temporalio/worker');

const dist = path.join(__dirname, '..', 'dist');
const workflowsPath = path.join(dist, 'src', 'workflows', 'index.js');


async function main() {
  if (!fs.existsSync(workflowsPath)) throw new Error(`${workflowsPath} is missing: run tsc first`);
  const quiet = () => undefined;
  const logger = { trace: quiet, debug: quiet, info: quiet, log: quiet, warn: (m) => console.warn(m), error: (m) => console.error(m) };
  // Two bundles: the default one, and one that keeps workflow stack traces (WORKER_WORKFLOW_STACK_TRACES).
  const { workflowBundleOptions, PREBUILT_BUNDLE, PREBUILT_BUNDLE_WITH_STACKS } = require(path.join(dist, 'src', 'worker', 'workflow-bundle.js'));
  for (const [stackTraces, out] of [[false, PREBUILT_BUNDLE], [true, PREBUILT_BUNDLE_WITH_STACKS]]) {
    const started = Date.now();
    const { code } = await bundleWorkflowCode({ ...workflowBundleOptions(stackTraces), logger });
    fs.writeFileSync(`${out}.tmp`, code);
    fs.renameSync(`${out}.tmp`, out);
    console.log(`workflow bundle: ${path.relative(process.cwd(), out)} (${Math.round(code.length / 1024)} KiB, ${Date.now() - started} ms)`);
  }
}

main().catch((err) => {
  console.error(`cannot bundle the workflow code: ${err.message}`);
  process.exit(1);
});
