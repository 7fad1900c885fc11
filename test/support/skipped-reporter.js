/**
 * A Jest reporter beside the default one: after the run, one line per skipped suite (or skipped test, when the rest
 * of its suite ran), with its title, which says why it is skipped ("… (skipped: no linux-arm64 LanceDB binary; run
 * npm run lambda:native)"). The default reporter only counts them.
 */
const path = require('node:path');

class SkippedReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
    // With -t, every test it leaves out counts as skipped: nothing to explain then.
    this.filtered = Boolean(globalConfig.testNamePattern);
    this.lines = [];
  }

  onTestResult(_test, result) {
    if (this.filtered) return;
    const file = path.relative(this.rootDir, result.testFilePath);
    const skipped = result.testResults.filter((t) => t.status === 'pending' || t.status === 'skipped');
    const seen = new Set();
    for (const test of skipped) {
      // A whole describe skipped is one line: its title carries the reason.
      const [suite] = test.ancestorTitles;
      const everyTestOfSuiteSkipped =
        suite !== undefined &&
        result.testResults
          .filter((t) => t.ancestorTitles[0] === suite)
          .every((t) => t.status === 'pending' || t.status === 'skipped');
      const title = everyTestOfSuiteSkipped ? suite : [...test.ancestorTitles, test.title].join(' › ');
      if (seen.has(title)) continue;
      seen.add(title);
      this.lines.push(`skipped: ${file} › ${title}`);
    }
  }

  onRunComplete() {
    if (this.lines.length > 0) process.stderr.write(`\n${this.lines.join('\n')}\n`);
  }
}

module.exports = SkippedReporter;
