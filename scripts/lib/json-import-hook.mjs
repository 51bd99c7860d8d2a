// @actions/workflow-parser imports its JSON schemas without `with { type: 'json' }`, which Node refuses: serve
// such a JSON file as an ES module whose default export is the parsed document.
import { registerHooks } from 'node:module'

registerHooks({
  load(url, context, nextLoad) {
    if (url.endsWith('.json') && context.importAttributes?.type !== 'json') {
      const loaded = nextLoad(url, { ...context, importAttributes: { type: 'json' }, format: 'json' })
      return { format: 'module', source: `export default ${loaded.source};`, shortCircuit: true }
    }
    return nextLoad(url, context)
  }
})
