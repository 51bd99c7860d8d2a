export {
  createRegistryClient,
  computeDigest,
  platformManifests,
  RegistryError,
  type Descriptor,
  type ImageConfigJson,
  type Manifest,
  type ManifestJson,
  type Platform,
  type PlatformManifest,
  type RegistryClient,
  type RegistryClientOptions,
  type RegistryRef
} from './client.js'
export {
  credentialHelperFor,
  credentialsFromDockerConfig,
  dockerConfigFile,
  parseAuthenticate,
  readDockerConfigCredentials,
  type AuthChallenge,
  type Credentials,
  type CredentialsResolver
} from './auth.js'
export * from './media-types.js'
export { getFromCredentialHelper, type CredentialHelperOptions } from './credential-helper.js'
