/**
 * Writes .oxlintrc.json: oxlint's correctness category, the type-aware async
 * rules STYLE.md §5.11 asks for (no-floating-promises, no-misused-promises), and the layer table of
 * test/layer-table.ts as `no-restricted-imports` overrides, so the linter
 * and the layer test never disagree (the layer test checks the file).
 *
 *   node --import tsx scripts/lint-config.ts
 */
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { lintOverrides } from '../test/layer-table.js'

const config = {
  $schema: './node_modules/oxlint/configuration_schema.json',
  // oxlint's correctness category (code that is wrong or useless) and the rules below; the other
  // categories would add style findings nobody asked for.
  categories: { correctness: 'error' },
  ignorePatterns: ['dist/**', 'test/package-fixtures/**'],
  rules: {
    'typescript/no-floating-promises': ['error', {
      // node:test runs and awaits its own tests and suites; a subtest (t.test) must still be awaited.
      allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }],
    }],
    'typescript/no-misused-promises': 'error',
  },
  overrides: lintOverrides(),
}

const file = join(dirname(fileURLToPath(import.meta.url)), '..', '.oxlintrc.json')
writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`)
console.log(`wrote ${file}`)
