import { describe, expect, it } from '@jest/globals'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { actionNames, updateReadme } from '../../scripts/readme-tables.mjs'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const names = actionNames(ROOT)

interface ActionYaml {
  name?: string
  description?: string
  branding?: { icon?: string; color?: string }
  inputs?: Record<string, { description?: string }>
  outputs?: Record<string, { description?: string }>
  runs?: { using?: string; main?: string }
}

const load = (name: string) =>
  parse(readFileSync(path.join(ROOT, 'actions', name, 'action.yml'), 'utf8')) as ActionYaml

describe('action.yml files', () => {
  it('exist for build-and-digest at least', () => expect(names).toContain('build-and-digest'))

  it.each(names)('%s runs on node24 from its own bundle, documented and branded', name => {
    const action = load(name)
    expect(action.runs).toEqual({ using: 'node24', main: `../../dist/${name}/index.js` })
    expect(action.name).toBeTruthy()
    expect(action.description).toBeTruthy()
    expect(action.branding?.icon && action.branding.color).toBeTruthy()
    for (const [key, spec] of [
      ...Object.entries(action.inputs ?? {}),
      ...Object.entries(action.outputs ?? {})
    ]) {
      expect([key, spec.description?.trim()]).toEqual([key, expect.any(String)])
    }
    expect(existsSync(path.join(ROOT, 'src', 'actions', name, 'index.ts'))).toBe(true)
  })

  it.each(names)('%s declares exactly the inputs and outputs its code names', async name => {
    const action = load(name)
    const code = (await import(`../../src/actions/${name}/inputs.js`)) as {
      INPUTS: string[]
      OUTPUTS: string[]
    }
    expect([...code.INPUTS].sort()).toEqual(Object.keys(action.inputs ?? {}).sort())
    expect([...code.OUTPUTS].sort()).toEqual(Object.keys(action.outputs ?? {}).sort())
  })
})

describe('README', () => {
  it('has the input and output tables of every action, equal to its action.yml', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    for (const name of [...names, 'root']) expect(readme).toContain(`<!-- action-tables:${name} -->`)
    // Run `node scripts/readme-tables.mjs` to regenerate.
    expect(updateReadme(readme, ROOT)).toBe(readme)
  })
})
