/** What the admin console and API say about the configured models' retirement. */
import { configuredModels, type ResolvedSettings } from '../shared/settings.ts';

/** A configured model retiring within this many days is flagged (and alerts: ConfiguredModelRetiringSoon). */
export const RETIRING_SOON_DAYS = 30;
const DAY_MS = 86_400_000;

export interface LifecycleWarning {
  readonly role: 'primary' | 'fallback';
  readonly model: string;
  readonly shutdownAt: string;
  /** Past its shutdown: calls fail (model_unavailable) and hand over; shown as a red banner. */
  readonly retired: boolean;
  readonly daysLeft: number;
  readonly replacementId: string | null;
  readonly replacementLabel: string | null;
}

export function lifecycleWarnings(s: ResolvedSettings, now: Date): LifecycleWarning[] {
  const out: LifecycleWarning[] = [];
  // Every step of the fallback chain is a fallback model: a retired one fails its calls too.
  for (const { role, model } of configuredModels(s)) {
    if (!model.shutdownAt) continue;
    const leftMs = model.shutdownAt.getTime() - now.getTime();
    if (leftMs > RETIRING_SOON_DAYS * DAY_MS) continue;
    const replacement = s.catalog.replacementOf(model);
    out.push({
      role,
      model: model.id,
      shutdownAt: model.shutdownAt.toISOString(),
      retired: leftMs <= 0,
      daysLeft: Math.max(0, Math.ceil(leftMs / DAY_MS)),
      replacementId: replacement?.id ?? null,
      replacementLabel: replacement?.label ?? null,
    });
  }
  return out;
}
