// In-process tests call @actions/core, which writes `::` workflow commands to stdout; keep them out of test
// output (the runner harness parses them for bundles run as child processes).
const write = process.stdout.write.bind(process.stdout)
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  if (typeof chunk === 'string' && chunk.startsWith('::')) return true
  return (write as (...args: unknown[]) => boolean)(chunk, ...rest)
}) as typeof process.stdout.write
