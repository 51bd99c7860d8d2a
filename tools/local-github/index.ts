/**
 * A local GitHub for the tests: real bare git repositories behind git smart HTTP, REST and GraphQL in front,
 * every request and response held to GitHub's published descriptions. Test support only; never bundled.
 *
 *   const gh = await startGitHub()
 *   await gh.createRepo('octo/gitops', { files: { 'apps/x.yaml': '…' } })
 *   const token = gh.createToken({ repos: { 'octo/gitops': { contents: 'write', pullRequests: 'write' } } })
 *   const octokit = getOctokit(token, { baseUrl: gh.apiUrl })
 *   afterEach(() => gh.assertNoViolations())
 *
 * Where it knowingly differs from github.com:
 * - URLs are laid out as on GitHub Enterprise Server (`/api/v3`, `/api/graphql`), over plain HTTP on loopback.
 * - Stricter than GitHub: a body field or query parameter the description does not name is a violation (GitHub
 *   ignores it silently, which is how a misspelt field ships).
 * - "Verified" commits are recorded by the server (web-flow), not signed with a real key.
 * - Reviews, merging, forks and teams are not modelled; a protected branch needing approvals keeps pulls blocked.
 * - "Allow GitHub Actions to create and approve pull requests" starts allowed (new repositories on GitHub start
 *   with it off); "Allow auto-merge" starts off, as on GitHub.
 * - Messages not confirmed against GitHub: createCommitOnBranch on a protected or missing branch, and
 *   enablePullRequestAutoMerge with a stale head or a closed pull; the body of the eventual-consistency fault;
 *   updateRefs answers every refusal but a protected branch with the generic "Something went wrong" error (GitHub
 *   does so for a stale beforeOid; for a missing object or a non-fast-forward it is assumed).
 */
export { startGitHub } from './server.js'
export type {
  Call,
  CommitOptions,
  CreateRepoOptions,
  FaultSpec,
  HookSpec,
  LocalGitHub,
  LogEntry,
  Permissions,
  Protection,
  RepoHandle,
  StatusOptions,
  TokenKind,
  TokenOptions,
  Violation
} from './server.js'
