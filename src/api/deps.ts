import type { Logger } from 'pino';
import type { BuiltinIssuer } from '../auth/issuer.ts';
import type { TokenVerifier } from '../auth/verifier.ts';
import type { ContentValidator } from '../catalog/contentValidator.ts';
import type { Config } from '../config/load.ts';
import type { SecretBox } from '../crypto/secretBox.ts';
import type { Publisher } from '../ingest/publisher.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Store } from '../store/types.ts';

/** Everything the HTTP API needs, passed in (no module-level singletons). */
export interface AppDeps {
  config: Config;
  store: Store;
  box: SecretBox;
  verifier: TokenVerifier;
  /** Present when the built-in OAuth2 issuer is on. */
  issuer: BuiltinIssuer | undefined;
  contentValidator: ContentValidator;
  publisher: Publisher;
  metrics: Metrics;
  /** Tells the delivery workers that something became due now. */
  wake: () => void;
  /** Tells this process's delivery worker that a webhook was activated, deactivated or deleted. */
  webhookState: (webhookId: string, active: boolean) => void;
  logger: Logger;
  now: () => number;
}
