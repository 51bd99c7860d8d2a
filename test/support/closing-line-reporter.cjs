// Prints one plain closing line, `tests: N passed, N failed, N skipped`, after Jest's own summary, so CI logs
// state the result in a form any reader (or tool) can parse.
class ClosingLineReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests
    const line = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`
    // Jest prints its own summary after every reporter's onRunComplete: write ours last, at exit.
    process.once('exit', () => process.stdout.write(line))
  }
}
module.exports = ClosingLineReporter
