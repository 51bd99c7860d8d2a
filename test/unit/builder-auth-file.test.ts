import { describe, expect, it } from '@jest/globals'
import { withLogin } from '../../src/lib/builder/auth-file.js'

const login = { registry: 'ghcr.io', username: 'bot', password: 'pw' }
const auth = Buffer.from('bot:pw').toString('base64')

describe('withLogin', () => {
  const config = {
    auths: { 'quay.io': { auth: 'cXVheTpx' } },
    credsStore: 'pass',
    credHelpers: { 'ghcr.io': 'gh', 'gcr.io': 'gcloud' },
    psFormat: 'table'
  }

  it('docker: the login wins for its host only; the store and other helpers still serve the rest', () => {
    expect(withLogin(config, login, 'docker')).toEqual({
      auths: { 'quay.io': { auth: 'cXVheTpx' }, 'ghcr.io': { auth } },
      credsStore: 'pass',
      credHelpers: { 'ghcr.io': '', 'gcr.io': 'gcloud' },
      psFormat: 'table'
    })
  })

  it('docker: Docker Hub under its legacy index URL', () => {
    const hub = withLogin({}, { ...login, registry: 'docker.io' }, 'docker')
    expect(hub).toEqual({
      auths: { 'https://index.docker.io/v1/': { auth } },
      credHelpers: { 'https://index.docker.io/v1/': '' }
    })
  })

  it('containers: no store (containers/image runs none), no helper for the host', () => {
    expect(withLogin(config, login, 'containers')).toEqual({
      auths: { 'quay.io': { auth: 'cXVheTpx' }, 'ghcr.io': { auth } },
      credHelpers: { 'gcr.io': 'gcloud' },
      psFormat: 'table'
    })
  })
})
