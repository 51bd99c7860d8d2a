import { describe, expect, it } from '@jest/globals'
import type { CommandRunner } from '../../src/lib/exec.js'
import { createGit } from '../../src/lib/git/index.js'

// What git prints when GitHub refuses a push, verbatim from GitHub's documented answers; the classification decides
// whether the action retries, points to push: branch, or fails.
function gitAnswering(stderr: string, exitCode = 1): CommandRunner {
  return { run: async () => ({ exitCode, stdout: '', stderr }) }
}

describe('git push results', () => {
  it.each([
    ['remote: error: GH006: Protected branch update failed for refs/heads/main.', 'protected'],
    [
      'remote: error: GH013: Repository rule violations found for refs/heads/main.\n ! [remote rejected] HEAD -> main (push declined due to repository rule violations)',
      'protected'
    ],
    [' ! [rejected]        HEAD -> main (fetch first)\nerror: failed to push some refs', 'rejected'],
    [' ! [rejected]        HEAD -> main (non-fast-forward)', 'rejected'],
    [" ! [remote rejected] HEAD -> main (cannot lock ref 'refs/heads/main')", 'rejected']
  ])('%s → %s', async (stderr, expected) => {
    const git = createGit({ runner: gitAnswering(stderr), cwd: '/nowhere' })
    expect(await git.tryPush('main')).toBe(expected)
  })

  it('fails with the last lines for anything else', async () => {
    const git = createGit({
      runner: gitAnswering(
        'remote: Permission to octo/gitops.git denied to bot.\nfatal: unable to access: 403'
      ),
      cwd: '/nowhere'
    })
    await expect(git.tryPush('main')).rejects.toThrow(
      /git push to main failed[\s\S]*Permission to octo\/gitops.git denied/
    )
  })
})
