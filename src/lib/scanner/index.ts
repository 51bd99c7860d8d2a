export { parseReport, readReport, ReportReader } from './detect.js'
export {
  advisoryUrl,
  atLeast,
  parseSeverity,
  ReportError,
  SEVERITIES,
  type Finding,
  type ReportFormat,
  type ScannerSuppression,
  type ScanReport,
  type Severity
} from './finding.js'
export { sha256File } from './file-digest.js'
export { installScanner, resolveRelease, type InstalledScanner, type InstallOptions } from './install.js'
export { PINNED_RELEASES, SCANNERS, SINGLE_SOURCE_CHECKSUMS, type ScannerName } from './releases.js'
export {
  commandFor,
  isScannerSetting,
  scanImage,
  type ScanLog,
  type ScanRequest,
  type ScanResult
} from './run.js'
export { sarifChunks, toSarif, type SarifFinding, type SarifOptions } from './sarif-output.js'
