import type { Logger } from '@aws-lambda-powertools/logger';
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import type { BotIdentityLookup } from './bot-identity';
import { type EventEnvelope, foreignDelivery } from './who-may-ask';

/**
 * Bolt middleware: deliveries for another app or workspace are refused before any listener runs (200: Slack must
 * not retry).
 */
export function refuseForeignDeliveries(
  identity: BotIdentityLookup,
  logger: Logger,
): Middleware<AnyMiddlewareArgs> {
  return async ({ body, next }) => {
    const envelope = body as EventEnvelope;
    const interaction = body as {
      type?: string;
      api_app_id?: string;
      team?: { id?: string } | null;
      enterprise?: { id?: string } | null;
    };
    if (interaction.type === 'block_actions' || interaction.type === 'view_submission') {
      const { appId, teamId, enterpriseId } = await identity();
      // On an org-wide install any workspace of the organisation may click: its organisation must be ours.
      const foreignScope =
        enterpriseId !== undefined
          ? interaction.enterprise?.id !== enterpriseId
          : teamId !== undefined && interaction.team?.id !== undefined && interaction.team.id !== teamId;
      if ((appId !== undefined && interaction.api_app_id !== appId) || foreignScope) {
        logger.warn('interaction for another app or workspace refused', { type: interaction.type });
        return;
      }
    }
    if (envelope.type === 'event_callback') {
      const reason = foreignDelivery(envelope, await identity());
      if (reason !== undefined) {
        logger.warn('delivery for another app or workspace refused', {
          reason,
          eventId: (body as { event_id?: string }).event_id,
        });
        return;
      }
    }
    await next();
  };
}
