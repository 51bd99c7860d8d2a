// Lets Node 24 run the TypeScript development tools (the demo, the local GitHub) without a build: a relative
// import of `./x.js` that does not exist is resolved to `./x.ts`, as TypeScript resolves it. Node itself strips
// the types (--experimental-transform-types).
import { registerHooks } from 'node:module'

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if (error?.code === 'ERR_MODULE_NOT_FOUND' && /^\.\.?\/.*\.js$/.test(specifier))
        return nextResolve(specifier.replace(/\.js$/, '.ts'), context)
      throw error
    }
  }
})
