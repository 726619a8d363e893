#!/usr/bin/env node
// Prints one plain closing line for the test run from Vitest's JSON report, e.g.
// `tests: 371 passed, 0 failed, 2 skipped`, so CI logs state the outcome without colour codes.
import { existsSync, readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.tmp/vitest-report.json';
if (!existsSync(file)) {
  console.log('tests: no report written (the run did not finish)');
  process.exit(0);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(
  `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`,
);
