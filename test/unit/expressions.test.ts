import { describe, expect, it } from '@jest/globals'
import { evaluateCondition, evaluateTemplate } from '../support/expressions.js'

const contexts = {
  inputs: { land: 'pull-request', paths: 'a\nb', empty: '' },
  steps: { bump: { outputs: { changed: 'true', branch: 'promote/dev/web' } } },
  github: { sha: 'abc123', repository: 'octo/app' }
}

describe('the runner expression language in the harness', () => {
  it('evaluates templates with functions, operators and several parts', () => {
    expect(
      evaluateTemplate("${{ inputs.land == 'pull-request' && 'branch' || 'direct' }}", contexts, 't')
    ).toBe('branch')
    expect(
      evaluateTemplate(
        "x-${{ github.sha }}-${{ format('{0}/{1}', inputs.land, github.repository) }}",
        contexts,
        't'
      )
    ).toBe('x-abc123-pull-request/octo/app')
    expect(evaluateTemplate("${{ steps.bump.outputs.changed == 'true' }}", contexts, 't')).toBe('true')
    expect(evaluateTemplate('${{ steps.nope.outputs.x }}', contexts, 't')).toBe('')
    expect(evaluateTemplate('plain', contexts, 't')).toBe('plain')
  })

  it('is case-insensitive for context names and comparisons, as the runner is', () => {
    expect(evaluateTemplate("${{ INPUTS.Land == 'PULL-REQUEST' }}", contexts, 't')).toBe('true')
  })

  it('conditions imply success() unless a status function is named', () => {
    expect(evaluateCondition("inputs.land == 'pull-request'", contexts, { succeeded: true }, 't')).toBe(true)
    expect(evaluateCondition("inputs.land == 'pull-request'", contexts, { succeeded: false }, 't')).toBe(
      false
    )
    expect(evaluateCondition('${{ always() }}', contexts, { succeeded: false }, 't')).toBe(true)
    expect(evaluateCondition('failure()', contexts, { succeeded: false }, 't')).toBe(true)
    expect(evaluateCondition('', contexts, { succeeded: true }, 't')).toBe(true)
    expect(evaluateCondition('inputs.empty', contexts, { succeeded: true }, 't')).toBe(false)
  })

  it('refuses what the runner refuses', () => {
    expect(() => evaluateTemplate('${{ nosuch.context }}', contexts, 'where')).toThrow(
      /where: cannot evaluate/
    )
    expect(() => evaluateTemplate('${{ inputs.land ', contexts, 'where')).toThrow(/without '}}'/)
  })
})
