import { describe, expect, it } from '@jest/globals'
import {
  checkRequest,
  checkResponse,
  findOperation,
  matchRoute,
  toJsonSchema
} from '../../tools/local-github/contract.js'
import { asGitHubWordsIt } from '../../tools/local-github/git.js'
import { Registry, type RepoState } from '../../tools/local-github/state.js'

function operation(id: string) {
  const found = findOperation(id)
  if (!found) throw new Error(`no operation ${id}`)
  return found
}

function request(id: string, params: Record<string, string>, query: string, body?: unknown) {
  const raw = Buffer.from(body === undefined ? '' : JSON.stringify(body))
  return checkRequest(
    operation(id),
    params,
    new URLSearchParams(query),
    raw,
    'application/json; charset=utf-8'
  )
}

describe('toJsonSchema (OpenAPI 3.0 → JSON Schema)', () => {
  it.each([
    [{ type: 'string', nullable: true }, { type: ['string', 'null'] }],
    [
      { type: 'string', enum: ['a', 'b'], nullable: true },
      { type: ['string', 'null'], enum: ['a', 'b', null] }
    ],
    [{ type: 'integer', nullable: false }, { type: 'integer' }],
    [
      { nullable: true, allOf: [{ $ref: '#/x' }], description: 'd' },
      { description: 'd', anyOf: [{ allOf: [{ $ref: '#/x' }] }, { type: 'null' }] }
    ],
    [
      { type: 'object', properties: { a: { type: 'string', nullable: true } } },
      { type: 'object', properties: { a: { type: ['string', 'null'] } } }
    ],
    [
      { type: 'number', minimum: 0, exclusiveMinimum: true },
      { type: 'number', exclusiveMinimum: 0 }
    ],
    // A property that happens to be called `nullable` is data, not the keyword.
    [
      { type: 'object', properties: { nullable: { type: 'boolean' } } },
      { type: 'object', properties: { nullable: { type: 'boolean' } } }
    ]
  ])('%j', (input, expected) => {
    const copy = structuredClone(input) as never
    toJsonSchema(copy)
    expect(copy).toEqual(expected)
  })
})

describe('matchRoute', () => {
  it.each([
    ['GET', '/repos/octo/gitops', 'repos/get', { owner: 'octo', repo: 'gitops' }],
    ['GET', '/repos/octo/gitops/git/ref/heads/env/prod', 'git/get-ref', { ref: 'heads/env/prod' }],
    ['GET', '/repos/octo/gitops/git/ref/heads%2Fenv%2Fprod', 'git/get-ref', { ref: 'heads/env/prod' }],
    ['GET', '/repos/octo/gitops/contents/apps/x.yaml', 'repos/get-content', { path: 'apps/x.yaml' }],
    ['GET', '/repos/octo/gitops/contents', 'repos/get-content', { path: '' }],
    ['GET', '/repos/octo/gitops/commits', 'repos/list-commits', {}],
    ['GET', '/repos/octo/gitops/commits/main', 'repos/get-commit', { ref: 'main' }],
    [
      'GET',
      '/repos/octo/gitops/commits/env/prod/status',
      'repos/get-combined-status-for-ref',
      { ref: 'env/prod' }
    ],
    ['GET', '/repos/octo/gitops/commits/abc/check-runs', 'checks/list-for-ref', { ref: 'abc' }],
    [
      'GET',
      '/repos/octo/gitops/compare/main...env/prod',
      'repos/compare-commits-with-basehead',
      { basehead: 'main...env/prod' }
    ],
    ['POST', '/repos/octo/gitops/pulls', 'pulls/create', {}],
    ['PATCH', '/repos/octo/gitops/pulls/12', 'pulls/update', { pull_number: '12' }]
  ])('%s %s is %s', (method, path, id, params) => {
    const match = matchRoute(method, path)
    expect(match.kind === 'operation' && match.operation.operationId).toBe(id)
    if (match.kind === 'operation') expect(match.params).toMatchObject(params)
  })

  it('tells a path GitHub does not have from a method it does not take', () => {
    expect(matchRoute('GET', '/repos/octo/gitops/nothing-here/1')).toEqual({ kind: 'none' })
    expect(matchRoute('PUT', '/repos/octo/gitops/pulls')).toEqual({
      kind: 'method',
      methods: expect.arrayContaining(['GET', 'POST'])
    })
  })
})

describe('checkRequest', () => {
  it('accepts what the description describes, with query values given their types', () => {
    const list = request('pulls/list', { owner: 'o', repo: 'r' }, 'state=open&head=o:x&per_page=50')
    expect(list.errors).toEqual([])
    expect(list.query).toEqual({ state: 'open', head: 'o:x', per_page: 50 })
    const pull = request('pulls/get', { owner: 'o', repo: 'r', pull_number: '7' }, '')
    expect(pull.params.pull_number).toBe(7)
    expect(
      request('git/create-tree', { owner: 'o', repo: 'r' }, '', {
        tree: [{ path: 'a', mode: '100644', type: 'blob', sha: null }]
      }).errors
    ).toEqual([])
  })

  it.each([
    [
      'a misspelt body field',
      'pulls/create',
      '',
      { head: 'x', base: 'main', titel: 't' },
      "body must NOT have additional properties: 'titel'"
    ],
    [
      'a missing required field',
      'pulls/create',
      '',
      { head: 'x', title: 't' },
      "body must have required property 'base'"
    ],
    ['a wrong type', 'git/update-ref', '', { sha: 'a', force: 'yes' }, 'body/force must be boolean'],
    [
      'a value outside an enum',
      'repos/create-commit-status',
      '',
      { state: 'passed' },
      'body/state must be equal to one of the allowed values'
    ],
    [
      'an unknown query parameter',
      'pulls/list',
      'status=open',
      undefined,
      "query parameter 'status' is not in the description"
    ],
    [
      'a query value of the wrong type',
      'pulls/list',
      'per_page=all',
      undefined,
      'query.per_page must be integer'
    ],
    ['a missing body', 'pulls/create', '', undefined, 'the request body is required'],
    [
      'a nested field',
      'git/create-tree',
      '',
      { tree: [{ path: 'a', mode: '644' }] },
      'body/tree/0/mode must be equal to one of the allowed values'
    ]
  ])('catches %s', (_what, id, query, body, message) => {
    const params: Record<string, string> =
      id === 'git/update-ref'
        ? { owner: 'o', repo: 'r', ref: 'heads/main' }
        : id === 'repos/create-commit-status'
          ? { owner: 'o', repo: 'r', sha: 'a'.repeat(40) }
          : { owner: 'o', repo: 'r' }
    expect(request(id, params, query, body).errors).toEqual(
      expect.arrayContaining([expect.stringContaining(message)])
    )
  })

  it('refuses a body that is not JSON', () => {
    const checked = checkRequest(
      operation('pulls/create'),
      { owner: 'o', repo: 'r' },
      new URLSearchParams(),
      Buffer.from('{'),
      'application/json'
    )
    expect(checked.errors).toEqual(['the request body is not JSON'])
  })
})

describe('checkResponse', () => {
  const ref = {
    ref: 'refs/heads/main',
    node_id: 'REF_1',
    url: 'http://127.0.0.1:1/api/v3/repos/o/r/git/refs/heads/main',
    object: {
      type: 'commit',
      sha: 'a'.repeat(40),
      url: 'http://127.0.0.1:1/api/v3/repos/o/r/git/commits/' + 'a'.repeat(40)
    }
  }

  it('accepts a conforming body and catches a missing field, a wrong format and a null where none is allowed', () => {
    const get = operation('git/get-ref')
    expect(checkResponse(get, 200, 'application/json', ref)).toEqual([])
    expect(checkResponse(get, 200, 'application/json', { ...ref, node_id: undefined })).toEqual([
      "response must have required property 'node_id'"
    ])
    expect(checkResponse(get, 200, 'application/json', { ...ref, url: 'not a url' })).toEqual([
      'response/url must match format "uri"'
    ])
    expect(
      checkResponse(get, 200, 'application/json', { ...ref, object: { ...ref.object, sha: null } })
    ).toEqual(expect.arrayContaining(['response/object/sha must be string']))
  })

  it('accepts null where the description says nullable', () => {
    const blob = {
      sha: 'a'.repeat(40),
      url: 'http://x/y',
      node_id: 'B',
      size: null,
      content: '',
      encoding: 'base64'
    }
    expect(checkResponse(operation('git/get-blob'), 200, 'application/json', blob)).toEqual([])
  })

  it('knows which statuses an operation may answer', () => {
    expect(checkResponse(operation('git/get-ref'), 418, 'application/json', { message: 'teapot' })).toEqual([
      'status 418 is not described for git/get-ref'
    ])
    expect(
      checkResponse(operation('git/get-ref'), 404, 'application/json', { message: 'Not Found' })
    ).toEqual([])
    expect(checkResponse(operation('git/delete-ref'), 204, undefined, undefined)).toEqual([])
    expect(checkResponse(operation('git/delete-ref'), 204, 'application/json', {})).toEqual([
      'status 204 of git/delete-ref is described without a body'
    ])
  })
})

describe('asGitHubWordsIt', () => {
  const packet = (text: string | Buffer): Buffer => {
    const data = Buffer.isBuffer(text) ? text : Buffer.from(text)
    return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, '0')), data])
  }
  const report = Buffer.concat([
    packet('unpack ok\n'),
    packet('ng refs/heads/main pre-receive hook declined\n'),
    Buffer.from('0000')
  ])

  it('rewords a plain report-status', () => {
    expect(asGitHubWordsIt(report).toString()).toBe(
      '000eunpack ok\n0036ng refs/heads/main protected branch hook declined\n0000'
    )
  })

  it('rewords a report inside side-band channel 1 and keeps channel 2', () => {
    const progress = packet(Buffer.concat([Buffer.from([2]), Buffer.from('error: GH006\n')]))
    const banded = Buffer.concat([
      progress,
      packet(Buffer.concat([Buffer.from([1]), report])),
      Buffer.from('0000')
    ])
    const out = asGitHubWordsIt(banded)
    expect(out.subarray(0, progress.length)).toEqual(progress)
    expect(out.toString('latin1')).toContain('ng refs/heads/main protected branch hook declined\n')
    expect(out.toString('latin1')).not.toContain('pre-receive')
  })

  it('leaves anything else alone', () => {
    const accepted = Buffer.concat([
      packet('unpack ok\n'),
      packet('ok refs/heads/main\n'),
      Buffer.from('0000')
    ])
    expect(asGitHubWordsIt(accepted)).toBe(accepted)
  })
})

describe('Registry', () => {
  const registry = new Registry()
  const repo = (fullName: string, isPrivate = true) => ({ fullName, private: isPrivate }) as RepoState
  const token = registry.createToken({
    repos: { 'octo/gitops': { contents: 'write', pullRequests: 'read' } }
  })

  it.each([
    [`token ${token.value}`, 'token'],
    [`Bearer ${token.value}`, 'token'],
    [`Basic ${Buffer.from(`x-access-token:${token.value}`).toString('base64')}`, 'token'],
    [`Basic ${Buffer.from(`${token.value}:`).toString('base64')}`, 'token'],
    [`Basic ${Buffer.from('x-access-token:ghs_nope').toString('base64')}`, 'invalid'],
    ['Digest abc', 'invalid']
  ])('reads %s as %s', (header, kind) => {
    expect(registry.caller(header).kind).toBe(kind)
  })

  it('grants what the token holds, hides private repositories, and shows public ones read-only', () => {
    const caller = registry.caller(`token ${token.value}`)
    expect(registry.access(caller, repo('octo/gitops'), 'contents', 'write')).toBe('ok')
    expect(registry.access(caller, repo('OCTO/GitOps'), 'pullRequests', 'read')).toBe('ok')
    expect(registry.access(caller, repo('octo/gitops'), 'pullRequests', 'write')).toBe('forbidden')
    expect(registry.access(caller, repo('octo/gitops'), 'statuses', 'read')).toBe('forbidden')
    expect(registry.access(caller, repo('octo/other'), 'contents', 'read')).toBe('not-found')
    expect(registry.access(caller, repo('octo/public', false), 'contents', 'read')).toBe('ok')
    expect(registry.access(caller, repo('octo/public', false), 'contents', 'write')).toBe('forbidden')
    expect(registry.access({ kind: 'anonymous' }, repo('octo/public', false), 'contents', 'write')).toBe(
      'unauthenticated'
    )
  })

  it('gives a workflow token exactly one repository', () => {
    expect(() => registry.createToken({ kind: 'workflow', repos: { 'a/b': {}, 'a/c': {} } })).toThrow(
      /exactly one repository/
    )
    const workflow = registry.createToken({ kind: 'workflow', repos: { 'a/b': { contents: 'read' } } })
    expect([workflow.user.login, workflow.value.startsWith('ghs_')]).toEqual(['github-actions[bot]', true])
    expect(registry.createToken({ kind: 'user', repos: {} }).value).toMatch(/^github_pat_/)
  })
})
