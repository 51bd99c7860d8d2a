export {
  attachVerdict,
  EMPTY_CONFIG,
  readReferrersTag,
  referrersTag,
  type AttachedVerdict,
  type ReferrersVia,
  type VerdictRegistry
} from './attach.js'
export { findVerdict, type FoundVerdict } from './find.js'
export {
  CREATED_ANNOTATION,
  DECISION_ANNOTATION,
  parseVerdict,
  VERDICT_ARTIFACT_TYPE,
  type Verdict,
  type VerdictCounts
} from './verdict.js'
