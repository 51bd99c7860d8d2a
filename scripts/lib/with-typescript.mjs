// Scripts that import the TypeScript development tools (the local GitHub, the test harness) run themselves again
// under Node 24 with its type stripping and the hook that resolves `./x.js` imports to `x.ts`.
import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'

const HOOK = new URL('./ts-import-hook.mjs', import.meta.url)

/** Returns when this process can import TypeScript; otherwise runs `script` again so that it can, and exits. */
export function runWithTypeScript(node24, script) {
  if (process.env.DIGEST_DELIVERY_TS === '1') return
  const result = spawnSync(
    node24,
    [
      '--no-warnings',
      '--experimental-transform-types',
      '--import',
      pathToFileURL(fileURLToPath(HOOK)).href,
      fileURLToPath(script)
    ],
    { stdio: 'inherit', env: { ...process.env, DIGEST_DELIVERY_TS: '1' } }
  )
  process.exit(result.status ?? 1)
}
