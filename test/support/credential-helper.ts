import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Holds `docker-credential-standin`, a helper that speaks the docker-credential-helpers protocol. */
export const CREDENTIAL_HELPER_DIR = fileURLToPath(new URL('./credential-helper-standin', import.meta.url))

export interface StandInHelper {
  /** DOCKER_CONFIG (holding `config`), the helper's store and log, and PATH with the helper first. */
  env: Record<string, string>
  configDir: string
  /** The server addresses the helper was asked for, in order. */
  asked(): Promise<string[]>
  cleanup(): Promise<void>
}

/** A Docker config naming the stand-in helper, and what the helper knows (server address → Username, Secret). */
export async function standInHelper(
  config: Record<string, unknown>,
  store: Record<string, { Username: string; Secret: string }>,
  mode?: 'fail' | 'hang' | 'garbage'
): Promise<StandInHelper> {
  const dir = await mkdtemp(join(tmpdir(), 'credential-helper-'))
  const storeFile = join(dir, 'store.json')
  const log = join(dir, 'asked.log')
  await writeFile(join(dir, 'config.json'), JSON.stringify(config))
  await writeFile(storeFile, JSON.stringify(store))
  await writeFile(log, '')
  return {
    env: {
      DOCKER_CONFIG: dir,
      STANDIN_HELPER_STORE: storeFile,
      STANDIN_HELPER_LOG: log,
      PATH: `${CREDENTIAL_HELPER_DIR}${delimiter}${process.env.PATH ?? ''}`,
      ...(mode ? { STANDIN_HELPER_MODE: mode } : {})
    },
    configDir: dir,
    asked: async () => (await readFile(log, 'utf8')).split('\n').filter(line => line !== ''),
    cleanup: () => rm(dir, { recursive: true, force: true })
  }
}
