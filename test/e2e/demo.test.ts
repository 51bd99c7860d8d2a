import { describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { NODE24_BIN, REPO_ROOT } from '../support/action-runner.js'

// `npm run demo` without its install step (the packages are here): the chain end to end, as a newcomer sees it.
describe('npm run demo', () => {
  it('builds, gates, pins dev, and promotes to staging with a pull request, printing what a reviewer needs', async () => {
    const child = spawn(
      NODE24_BIN,
      [
        '--experimental-transform-types',
        '--no-warnings',
        '--import',
        join(REPO_ROOT, 'scripts', 'lib', 'ts-import-hook.mjs'),
        join(REPO_ROOT, 'scripts', 'demo.ts')
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] }
    )
    let out = ''
    child.stdout.on('data', chunk => (out += chunk))
    child.stderr.on('data', chunk => (out += chunk))
    const [code] = (await once(child, 'close')) as [number | null]
    expect([code, out.slice(-2000)]).toEqual([0, expect.any(String)])
    const digest = /^digest\s+(sha256:[0-9a-f]{64})$/m.exec(out)?.[1]
    expect(digest).toBeDefined()
    expect(out).toMatch(/^scan verdict\s+pass/m)
    expect(out).toMatch(/^dev commit\s+[0-9a-f]{40}$/m)
    expect(out).toMatch(/^operation\s+created$/m)
    expect(out).toMatch(/^pull request\s+http:\/\/127\.0\.0\.1:\d+\/demo\/gitops\/pull\/1$/m)
    // The body carries the state block, and the diff pins staging to the digest dev runs.
    expect(out).toContain('<!-- digest-delivery:promotion ')
    expect(out).toContain(`+    digest: ${digest}`)
    expect(out).toContain('apps/web/overlays/staging/kustomization.yaml')
  }, 300_000)
})
