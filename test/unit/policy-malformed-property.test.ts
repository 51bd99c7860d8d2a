import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import fc from 'fast-check'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { scanGate, type Collaborators } from '../../src/actions/scan-gate/main.js'
import { ConfigurationError } from '../../src/lib/errors.js'
import { createCommandRunner } from '../../src/lib/exec.js'
import { mapInputs } from '../../src/lib/inputs.js'
import { ReportError } from '../../src/lib/scanner/index.js'
import { fixture, FIXTURE_DIGEST, FIXTURE_IMAGE } from '../support/scanner/standin.js'

const REPORTS = [
  'trivy-mixed.json',
  'grype-mixed.json',
  'trivy-sarif.json',
  'trivy-legacy.json',
  'trivy-suppressed.json'
]
const texts = Object.fromEntries(REPORTS.map(name => [name, readFileSync(fixture(name), 'utf8')]))
const ids = [
  ...new Set(Object.values(texts).flatMap(text => text.match(/(CVE-\d{4}-\d+|GHSA(-[a-z0-9]{4}){3})/g) ?? []))
]
const OTHER_DIGEST = `sha256:${'7e'.repeat(32)}`

/** A registry that cannot be reached: a report's own content must settle everything. */
function offlineRegistry(): ReturnType<Collaborators['registry']> {
  const offline = (): never => {
    throw new Error('registry unreachable in this test')
  }
  return {
    resolveDigest: offline,
    getManifest: offline,
    getBlob: offline,
    putBlob: offline,
    putManifest: offline,
    putReferrer: offline,
    getReferrers: offline
  }
}

let root: string
const savedEnv = { ...process.env }
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'malformed-'))
})
afterAll(async () => {
  process.env = { ...savedEnv }
  await rm(root, { recursive: true, force: true })
})

/** Ways to break a report; each leaves something a careful reader must refuse. */
const malformation = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0.01, max: 0.99, noNaN: true }) }),
  fc.record({
    kind: fc.constant('severity' as const),
    // An empty severity is not malformed: Trivy and Grype omit it when no source grades the advisory (unknown).
    word: fc.constantFrom('SEVERE', 'important', 'CRIT', '5')
  }),
  fc.record({ kind: fc.constant('digest' as const) }),
  fc.record({ kind: fc.constant('type' as const), value: fc.constantFrom('5', 'null', '[]', '{}', 'true') }),
  fc.record({ kind: fc.constant('garbage' as const), tail: fc.constantFrom('x', '{}', ']', ',', '\u0000') }),
  fc.record({ kind: fc.constant('empty' as const), content: fc.constantFrom('', ' ', '\n\n') })
)

function breakReport(
  text: string,
  change: fc.Arbitrary<unknown> extends never ? never : { kind: string; [k: string]: unknown }
): string | undefined {
  switch (change.kind) {
    case 'truncate': {
      const end = text.trimEnd().length - 1
      return text.slice(0, Math.max(1, Math.floor(end * (change.at as number))))
    }
    case 'severity': {
      const replaced = text.replace(
        /("(?:Severity|severity)": ")([A-Za-z]+)(")/,
        `$1${change.word as string}$3`
      )
      return replaced === text ? undefined : replaced
    }
    case 'digest':
      return text.includes(FIXTURE_DIGEST) ? text.replaceAll(FIXTURE_DIGEST, OTHER_DIGEST) : undefined
    case 'type': {
      const replaced = text.replace(
        /("(?:VulnerabilityID|PkgName|id|ruleId)": )"[^"]*"/,
        `$1${change.value as string}`
      )
      return replaced === text ? undefined : replaced
    }
    case 'garbage':
      return text.trimEnd() + (change.tail as string)
    default:
      return change.content as string
  }
}

describe('no combination of ignores and VEX turns a malformed report into a pass (property)', () => {
  it('every malformed report is an error, whatever the policy', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...REPORTS),
        malformation,
        fc.record({
          severity: fc.constantFrom('critical', 'high', 'medium', 'low', 'unknown'),
          ignoreUnfixed: fc.boolean(),
          ignoreAll: fc.boolean(),
          trivyignoreAll: fc.boolean(),
          vexAll: fc.boolean(),
          generousMax: fc.boolean(),
          fail: fc.boolean(),
          baseline: fc.boolean()
        }),
        async (name, change, policy) => {
          const broken = breakReport(texts[name] as string, change)
          fc.pre(broken !== undefined)
          const workspace = join(root, `run-${run++}`)
          await mkdir(workspace, { recursive: true })
          await writeFile(join(workspace, 'report.json'), broken as string)
          if (policy.baseline) await writeFile(join(workspace, 'baseline.json'), texts[name] as string)
          const lines = [`severity: ${policy.severity}`, `ignore-unfixed: ${policy.ignoreUnfixed}`]
          if (policy.generousMax)
            lines.push(
              'max: { critical: 100000, high: 100000, medium: 100000, low: 100000, unknown: 100000 }'
            )
          if (policy.ignoreAll) {
            lines.push(
              'ignore:',
              ...ids.map(id => `  - { id: ${id}, reason: everything is fine, expires: 2099-01-01 }`)
            )
          }
          await writeFile(join(workspace, 'policy.yml'), lines.join('\n'))
          if (policy.trivyignoreAll) await writeFile(join(workspace, '.trivyignore'), ids.join('\n'))
          const vex = {
            '@context': 'https://openvex.dev/ns/v0.2.0',
            '@id': 'https://example.com/vex',
            author: 'test',
            timestamp: '2026-01-01T00:00:00Z',
            version: 1,
            statements: ids.map(id => ({
              vulnerability: { name: id },
              products: [{ '@id': FIXTURE_IMAGE }],
              status: 'not_affected',
              justification: 'component_not_present'
            }))
          }
          await writeFile(join(workspace, 'vex.json'), JSON.stringify(vex))
          const outputs: Record<string, string> = {}
          const deps: Collaborators = {
            inputs: mapInputs({
              'image-ref': `${FIXTURE_IMAGE}@${FIXTURE_DIGEST}`,
              report: 'report.json',
              policy: 'policy.yml',
              vex: policy.vexAll ? 'vex.json' : '',
              fail: String(policy.fail),
              baseline: policy.baseline ? 'baseline.json' : ''
            }),
            env: { GITHUB_WORKSPACE: workspace, RUNNER_TEMP: workspace },
            runner: createCommandRunner(),
            registry: offlineRegistry,
            install: () => Promise.reject(new Error('no scanner is installed for a report')),
            setOutput: (output, value) => (outputs[output] = value),
            writeSummary: async () => {},
            now: () => Date.parse('2026-03-15T12:00:00Z')
          }
          const outcome = await scanGate(deps).then(
            evaluation => evaluation.decision,
            (error: unknown) => error
          )
          expect(outcome).toBeInstanceOf(Error)
          expect(outcome instanceof ReportError || outcome instanceof ConfigurationError).toBe(true)
          expect(outputs.decision).toBeUndefined()
        }
      ),
      { numRuns: 120 }
    )
  })

  it('the same policies do pass the intact reports: the property is not vacuous', async () => {
    const workspace = join(root, 'intact')
    await mkdir(workspace, { recursive: true })
    await writeFile(
      join(workspace, 'policy.yml'),
      [
        'ignore:',
        ...ids.map(id => `  - { id: ${id}, reason: everything is fine, expires: 2099-01-01 }`)
      ].join('\n')
    )
    for (const name of REPORTS) {
      await writeFile(join(workspace, name), texts[name] as string)
      const outputs: Record<string, string> = {}
      const evaluation = await scanGate({
        inputs: mapInputs({
          'image-ref': `${FIXTURE_IMAGE}@${FIXTURE_DIGEST}`,
          report: name,
          // The legacy array never names its image: accepted here on purpose.
          'report-subject': name === 'trivy-legacy.json' ? 'trust' : 'verify',
          policy: 'policy.yml'
        }),
        env: { GITHUB_WORKSPACE: workspace, RUNNER_TEMP: workspace },
        runner: createCommandRunner(),
        registry: offlineRegistry,
        install: () => Promise.reject(new Error('unused')),
        setOutput: (output, value) => (outputs[output] = value),
        writeSummary: async () => {},
        now: () => Date.parse('2026-03-15T12:00:00Z')
      })
      expect([name, evaluation.decision, outputs.decision]).toEqual([name, 'pass', 'pass'])
    }
  })
})
