import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigurationError } from '../../src/lib/errors.js'
import {
  globMatches,
  loadPolicy,
  parseExpiry,
  parseOpenVex,
  parsePolicyFile,
  parseTrivyignore,
  parseTrivyignoreYaml,
  purlMatches
} from '../../src/lib/policy/index.js'

function refusal(parse: () => unknown): string {
  try {
    parse()
  } catch (error) {
    if (error instanceof ConfigurationError) return error.message
    throw error
  }
  throw new Error('accepted')
}

describe('policy file', () => {
  it('reads every setting and ignore entry, with the line each entry is on', () => {
    const policy = parsePolicyFile(
      [
        'severity: critical',
        'ignore-unfixed: true',
        'fail-on-expired-ignore: true',
        'max:',
        '  high: 3',
        '  medium: 10',
        'ignore:',
        '  - id: CVE-2024-0001',
        '    package: libssl3',
        '    reason: only reachable from the admin CLI',
        '    expires: 2026-06-30',
        '  - { id: GHSA-qppj-fm5r-hxr3, reason: vendored copy unused, expires: 2026-01-31 }'
      ].join('\n'),
      'policy.yml'
    )
    expect(policy).toEqual({
      severity: 'critical',
      ignoreUnfixed: true,
      failOnExpiredIgnore: true,
      max: { high: 3, medium: 10 },
      ignores: [
        {
          id: 'CVE-2024-0001',
          package: 'libssl3',
          reason: 'only reachable from the admin CLI',
          expires: '2026-06-30',
          expiresAt: Date.parse('2026-06-30T00:00:00Z'),
          source: 'policy.yml:8'
        },
        {
          id: 'GHSA-qppj-fm5r-hxr3',
          package: undefined,
          reason: 'vendored copy unused',
          expires: '2026-01-31',
          expiresAt: Date.parse('2026-01-31T00:00:00Z'),
          source: 'policy.yml:12'
        }
      ]
    })
  })

  it('reads an empty file as no settings', () => {
    expect(parsePolicyFile('', 'p.yml')).toEqual({ max: {}, ignores: [] })
  })

  it.each([
    ['severty: high', "p.yml:1: unknown key 'severty' in the policy (known keys: severity, ignore-unfixed"],
    ['severity: severe', "p.yml:1: severity 'severe' is not one of critical, high, medium, low, unknown"],
    ['ignore-unfixed: yes', 'p.yml:1: ignore-unfixed must be true or false'],
    ['max:\n  hihg: 1', "p.yml:2: unknown key 'hihg' in max"],
    ['max:\n  high: -1', 'p.yml:2: max.high must be a whole number, 0 or more'],
    ['max:\n  high: 1.5', 'p.yml:2: max.high must be a whole number'],
    ['ignore:\n  - id: CVE-1\n    reason: r', "p.yml:2: ignore[0] has no 'expires'"],
    ['ignore:\n  - id: CVE-1\n    expires: 2026-01-01', "p.yml:2: ignore[0] has no 'reason'"],
    [
      'ignore:\n  - id: CVE-1\n    reason: r\n    expires: 2026-02-30',
      "p.yml:4: ignore[0].expires '2026-02-30' is not a date"
    ],
    [
      'ignore:\n  - id: CVE-1\n    reason: r\n    expires: next year',
      "p.yml:4: ignore[0].expires 'next year' is not a date"
    ],
    [
      'ignore:\n  - id: CVE-1\n    reason: r\n    expires: 2026-01-01\n    pakage: x',
      "p.yml:5: unknown key 'pakage' in ignore[0]"
    ],
    ['ignore:\n  id: CVE-1', 'p.yml:2: ignore must be a list'],
    ['severity: high\nseverity: low', 'p.yml:2: Map keys must be unique'],
    ['ignore: [', 'p.yml'],
    ['- severity: high', 'p.yml:1: the policy must be a mapping']
  ])('refuses %j', (text, message) => {
    expect(refusal(() => parsePolicyFile(text, 'p.yml'))).toContain(message)
  })
})

describe('.trivyignore', () => {
  it('reads ids, exp: dates and the comment above an entry as its reason', () => {
    const rules = parseTrivyignore(
      [
        '# Accept the risk',
        'CVE-2018-14618',
        '',
        '# Until the base image moves',
        'CVE-2019-14697 exp:2023-01-01',
        'CVE-2019-1543  not reachable',
        'AVD-DS-0002'
      ].join('\n'),
      '.trivyignore'
    )
    expect(rules.map(r => [r.id, r.reason, r.expires ?? null, r.source])).toEqual([
      ['CVE-2018-14618', 'Accept the risk', null, '.trivyignore:2'],
      ['CVE-2019-14697', 'Until the base image moves', '2023-01-01', '.trivyignore:5'],
      ['CVE-2019-1543', 'not reachable', null, '.trivyignore:6'],
      ['AVD-DS-0002', 'listed in .trivyignore', null, '.trivyignore:7']
    ])
    expect(rules[1]?.expiresAt).toBe(Date.parse('2023-01-01T00:00:00Z'))
  })

  it('refuses a date Trivy would warn about and drop, naming the line', () => {
    expect(refusal(() => parseTrivyignore('CVE-1\nCVE-2 exp:2023-13-01', '.trivyignore'))).toBe(
      ".trivyignore:2: 'exp:2023-13-01' is not a date: write exp:YYYY-MM-DD, e.g. exp:2026-06-30"
    )
    expect(refusal(() => parseTrivyignore('CVE-2 exp:2023-01-01 exp:2024-01-01', '.trivyignore'))).toContain(
      'more than one exp: date'
    )
  })
})

describe('.trivyignore.yaml', () => {
  it('reads vulnerabilities with paths, purls, expired_at and statement; other sections are not findings', () => {
    const rules = parseTrivyignoreYaml(
      [
        'vulnerabilities:',
        '  - id: CVE-2022-40897',
        '    paths:',
        '      - "usr/local/lib/python3.9/site-packages/setuptools-58.1.0.dist-info/METADATA"',
        '    statement: Accept the risk',
        '  - id: CVE-2023-2650',
        '  - id: CVE-2023-3446',
        '    purls:',
        '      - "pkg:deb/debian/libssl1.1"',
        '    expired_at: 2023-09-01',
        'misconfigurations:',
        '  - id: AVD-DS-0001',
        'secrets:',
        '  - id: aws-access-key-id'
      ].join('\n'),
      '.trivyignore.yaml'
    )
    expect(rules).toEqual([
      {
        id: 'CVE-2022-40897',
        paths: ['usr/local/lib/python3.9/site-packages/setuptools-58.1.0.dist-info/METADATA'],
        purls: undefined,
        reason: 'Accept the risk',
        expires: undefined,
        expiresAt: undefined,
        source: '.trivyignore.yaml:2'
      },
      {
        id: 'CVE-2023-2650',
        paths: undefined,
        purls: undefined,
        reason: 'listed in .trivyignore.yaml',
        expires: undefined,
        expiresAt: undefined,
        source: '.trivyignore.yaml:6'
      },
      {
        id: 'CVE-2023-3446',
        paths: undefined,
        purls: ['pkg:deb/debian/libssl1.1'],
        reason: 'listed in .trivyignore.yaml',
        expires: '2023-09-01',
        expiresAt: Date.parse('2023-09-01T00:00:00Z'),
        source: '.trivyignore.yaml:7'
      }
    ])
  })

  it.each([
    ['vulns:\n  - id: CVE-1', ".trivyignore.yaml:1: unknown key 'vulns' in the file"],
    [
      'vulnerabilities:\n  - id: CVE-1\n    expires: 2023-01-01',
      ".trivyignore.yaml:3: unknown key 'expires' in vulnerabilities[0]"
    ],
    ['vulnerabilities:\n  - paths: [a]', ".trivyignore.yaml:2: vulnerabilities[0] has no 'id'"],
    [
      'vulnerabilities:\n  - id: CVE-1\n    expired_at: 2023-02-31',
      ".trivyignore.yaml:3: vulnerabilities[0].expired_at '2023-02-31' is not a date"
    ]
  ])('refuses %j', (text, message) => {
    expect(refusal(() => parseTrivyignoreYaml(text, '.trivyignore.yaml'))).toContain(message)
  })
})

describe('OpenVEX', () => {
  const doc = (statements: unknown, extra: object = {}) =>
    JSON.stringify({
      '@context': 'https://openvex.dev/ns/v0.2.0',
      '@id': 'id',
      author: 'a',
      timestamp: '2026-01-01T00:00:00Z',
      version: 1,
      statements,
      ...extra
    })

  it.each([
    ['not JSON', '{', 'vex.json is not JSON'],
    ['not OpenVEX', JSON.stringify({ statements: [] }), 'is not an OpenVEX document'],
    [
      'a bad status',
      doc([{ vulnerability: 'CVE-1', products: ['x'], status: 'ok' }]),
      'status "ok" is not one of'
    ],
    [
      'not_affected without justification',
      doc([{ vulnerability: 'CVE-1', products: ['x'], status: 'not_affected' }]),
      'needs a justification or an impact_statement'
    ],
    [
      'an unknown justification',
      doc([{ vulnerability: 'CVE-1', products: ['x'], status: 'not_affected', justification: 'trust_me' }]),
      "justification 'trust_me' is not one of"
    ],
    ['no products', doc([{ vulnerability: 'CVE-1', status: 'fixed' }]), 'products must be a non-empty array'],
    ['no vulnerability', doc([{ products: ['x'], status: 'fixed' }]), 'vulnerability must be a name'],
    [
      'a bad timestamp',
      doc([{ vulnerability: 'CVE-1', products: ['x'], status: 'fixed', timestamp: 'yesterday' }]),
      'is not an RFC 3339 time'
    ]
  ])('refuses %s', (_name, text, message) => {
    expect(refusal(() => parseOpenVex(text, 'vex.json'))).toContain(message)
  })

  it('reads v0.0.1 string products and statement-level subcomponents', () => {
    const [statement] = parseOpenVex(
      doc([
        {
          vulnerability: 'CVE-1',
          products: ['pkg:oci/app@sha256%3A' + 'ab'.repeat(32)],
          subcomponents: ['pkg:deb/debian/openssl'],
          status: 'fixed'
        }
      ]),
      'vex.json'
    )
    expect(statement?.products).toEqual([
      {
        id: `pkg:oci/app@sha256%3A${'ab'.repeat(32)}`,
        digest: `sha256:${'ab'.repeat(32)}`,
        repository: undefined,
        subcomponents: ['pkg:deb/debian/openssl']
      }
    ])
  })
})

describe('matching helpers', () => {
  it.each([
    ['usr/**', 'usr/local/bin/tool', true],
    ['usr/*', 'usr/local/bin/tool', false],
    ['usr/local/bin/*', 'usr/local/bin/tool', true],
    ['**/METADATA', 'usr/lib/python3/x.dist-info/METADATA', true],
    ['app/go.?od', 'app/go.mod', true],
    ['app/go.mod', '/app/go.mod', true]
  ])('glob %s ~ %s: %s', (glob, path, expected) => {
    expect(globMatches(glob, path)).toBe(expected)
  })

  it.each([
    [
      'pkg:deb/debian/libssl1.1',
      'pkg:deb/debian/libssl1.1@1.1.1n-0%2Bdeb11u4?arch=amd64&distro=debian-11.7',
      true
    ],
    [
      'pkg:deb/debian/libssl1.1@1.1.1n-0+deb11u4',
      'pkg:deb/debian/libssl1.1@1.1.1n-0%2Bdeb11u4?arch=amd64',
      true
    ],
    ['pkg:deb/debian/libssl1.1@1.1.1m', 'pkg:deb/debian/libssl1.1@1.1.1n?arch=amd64', false],
    ['pkg:deb/debian/libssl1.1?arch=arm64', 'pkg:deb/debian/libssl1.1@1?arch=amd64', false],
    ['pkg:deb/ubuntu/libssl1.1', 'pkg:deb/debian/libssl1.1@1', false]
  ])('purl %s ~ %s: %s', (pattern, actual, expected) => {
    expect(purlMatches(pattern, actual)).toBe(expected)
  })

  it.each([
    ['2026-02-28', Date.UTC(2026, 1, 28)],
    ['2024-02-29', Date.UTC(2024, 1, 29)],
    ['2026-02-29', undefined],
    ['2026-1-5', undefined],
    ['2026-01-05T10:00:00Z', undefined]
  ])('date %s', (text, expected) => {
    expect(parseExpiry(text)).toBe(expected)
  })
})

describe('policy files stay inside the workspace, and their content is never echoed', () => {
  const CREDENTIAL = 'https://octo-bot:ghp_PlantedCredential0123456789@github.com'
  let root: string
  let workspace: string
  let outside: string

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'policy-inside-'))
    workspace = join(root, 'ws')
    outside = join(root, 'home')
    await mkdir(workspace)
    await mkdir(outside)
    await writeFile(join(outside, '.git-credentials'), `${CREDENTIAL}\n`)
  })
  afterEach(() => rm(root, { recursive: true, force: true }))

  const refusedWith = async (load: Promise<unknown>): Promise<string> => {
    const error = await load.then(
      () => undefined,
      (thrown: unknown) => thrown
    )
    if (!(error instanceof ConfigurationError)) throw new Error(`not refused: ${String(error)}`)
    return error.message
  }

  it.each(['.trivyignore', '.trivyignore.yaml'])(
    'refuses %s committed as a symlink to a credentials file outside the workspace, without reading it',
    async name => {
      await symlink(join(outside, '.git-credentials'), join(workspace, name))
      const message = await refusedWith(loadPolicy({ workspace, vexFiles: [] }))
      expect(message).toContain(`${name} in the workspace: '${name}' resolves outside the workspace`)
      expect(message).not.toContain('ghp_')
    }
  )

  it.each([
    ['policy', (file: string) => loadPolicy({ workspace, policyFile: file, vexFiles: [] }), "input 'policy'"],
    ['vex', (file: string) => loadPolicy({ workspace, vexFiles: [file] }), "input 'vex'"]
  ])('refuses a %s file outside the workspace, or a symlink to one', async (_name, load, what) => {
    expect(await refusedWith(load(join(outside, '.git-credentials')))).toContain(
      `${what}: '${join(outside, '.git-credentials')}' resolves outside the workspace`
    )
    await symlink(join(outside, '.git-credentials'), join(workspace, 'link.yml'))
    expect(await refusedWith(load(join(workspace, 'link.yml')))).toContain('resolves outside the workspace')
  })

  it.each(['.trivyignore', 'policy'])('refuses a FIFO as %s at once instead of hanging', async name => {
    execFileSync('mkfifo', [join(workspace, name)])
    const started = Date.now()
    const message = await refusedWith(
      loadPolicy({
        workspace,
        policyFile: name === 'policy' ? join(workspace, name) : undefined,
        vexFiles: []
      })
    )
    expect(message).toContain('is not a regular file')
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('refuses a .trivyignore line that is no vulnerability id, naming the line but not showing it', async () => {
    await writeFile(join(workspace, '.trivyignore'), `CVE-2024-0001\n${CREDENTIAL}\n`)
    const message = await refusedWith(loadPolicy({ workspace, vexFiles: [] }))
    expect(message).toBe(
      '.trivyignore:2: the entry is not a vulnerability id (letters, digits and . _ : + -, up to 128 characters, ' +
        'as CVE-2024-1234 or GHSA-xxxx-xxxx-xxxx); the line is not shown here. Fix or remove it'
    )
  })

  it('refuses a /proc/self/environ-like line (KEY=value and NUL) without echoing it', () => {
    const message = refusal(() =>
      parseTrivyignore('REGISTRY_PASSWORD=hunter2\u0000HOME=/root', '.trivyignore')
    )
    expect(message).not.toContain('hunter2')
  })

  it('reads a .trivyignore inside the workspace, and a symlink to one inside it', async () => {
    await mkdir(join(workspace, 'security'))
    await writeFile(join(workspace, 'security', 'ignore'), 'CVE-2024-0001\nRHSA-2024:1234\n')
    await symlink(join('security', 'ignore'), join(workspace, '.trivyignore'))
    const loaded = await loadPolicy({ workspace, vexFiles: [] })
    expect(loaded.ignores.map(rule => rule.id)).toEqual(['CVE-2024-0001', 'RHSA-2024:1234'])
  })
})
