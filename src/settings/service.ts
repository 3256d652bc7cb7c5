import { defaults, type EffectiveSettings } from './namespaces.js';

/**
 * Layered settings: code default -> platform -> region -> clinic -> provider, served from an in-memory
 * snapshot on every node. (This first cut serves the code defaults; the layered store replaces it.)
 */
export class SettingsService {
  /** The values a clinic (and, when given, one of its providers) runs with. */
  async effectiveFor(_clinicId: string, _providerId?: string): Promise<EffectiveSettings> {
    return defaults();
  }

  close(): void {}
}
