import { describe, expect, it } from '@jest/globals'
import type { Collaborators } from '../../src/actions/open-promotion-pr/main.js'
import { promoteEach, reportPromotions } from '../../src/actions/open-promotion-pr/promotions.js'
import { parseImageRef } from '../../src/lib/image-ref.js'
import { ConfigurationError, ExternalError } from '../../src/lib/errors.js'

const web = {
  image: 'ghcr.io/octo/web',
  imageRef: parseImageRef('ghcr.io/octo/web'),
  headBranch: 'promote/staging/octo-web'
}

/** Promotes one image that fails with `error`, and reports it as the action does. */
async function failOne(error: Error) {
  const outputs: Record<string, string> = {}
  let summary = ''
  const deps = {
    setOutput: (name: string, value: string) => void (outputs[name] = value),
    writeSummary: async (markdown: string) => void (summary += markdown)
  } as unknown as Collaborators
  const promotions = await promoteEach([web], async () => {
    throw error
  })
  const thrown = await reportPromotions(deps, { environment: 'staging', base: 'main' }, promotions).then(
    () => undefined,
    (reason: unknown) => reason
  )
  return { outputs, summary, thrown }
}

describe('reporting the promotion of one image that fails', () => {
  it.each([
    ['an external failure', new ExternalError('registry ghcr.io does not have sha256:ab (404 Not Found)')],
    [
      'a mistake in the inputs',
      new ConfigurationError("input 'head-branch' is 'main', the base branch itself")
    ],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'digest')")]
  ])(
    'lists it as failed in promotions and the summary, then fails with its own error (%s)',
    async (_, error) => {
      const { outputs, summary, thrown } = await failOne(error)
      // The very error, so its class (ConfigurationError, ExternalError, a bug) and message are the step's as before.
      expect(thrown).toBe(error)
      expect(JSON.parse(outputs.promotions!)).toEqual([
        {
          image: web.image,
          operation: 'failed',
          error: error.message,
          'pull-request-number': null,
          'pull-request-url': null,
          'head-branch': web.headBranch,
          'head-sha': null,
          verified: false,
          from: null,
          to: null,
          files: []
        }
      ])
      expect(outputs).toMatchObject({ operation: '', 'pull-request-number': '', promoted: '' })
      expect(summary).toContain('### Promotion of `ghcr.io/octo/web` to staging: failed')
    }
  )
})
