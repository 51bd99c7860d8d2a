export {
  baselineKey,
  evaluate,
  policyDigest,
  type Disposition,
  type Evaluation,
  type EvaluationContext,
  type ExpiredIgnore,
  type Judgement,
  type Policy,
  type SeverityCounts
} from './evaluate.js'
export { loadPolicy, type LoadedPolicy } from './load.js'
export { parsePolicyFile, type PolicyFile } from './policy-file.js'
export {
  globMatches,
  isExpired,
  parseExpiry,
  parsePurl,
  purlMatches,
  ruleMatches,
  type IgnoreRule
} from './rules.js'
export { parseTrivyignore, parseTrivyignoreYaml } from './trivyignore.js'
export { decidingStatement, parseOpenVex, productMatches, type VexStatement, type VexSubject } from './vex.js'
