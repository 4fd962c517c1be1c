/**
 * Search attributes this service sets on its workflows, so a person can find events in the
 * Temporal Web UI and with `temporal workflow list --query "EntityType = 'Order'"`.
 * They must be registered on the cluster (the embedded server registers them itself;
 * docker-compose.temporal.yml registers them for a dev cluster).
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const EntityType = defineSearchAttributeKey('EntityType', SearchAttributeType.KEYWORD);
export const EventKind = defineSearchAttributeKey('EventKind', SearchAttributeType.KEYWORD);
export const ObserverNames = defineSearchAttributeKey('ObserverNames', SearchAttributeType.KEYWORD_LIST);
export const FailedActions = defineSearchAttributeKey('FailedActions', SearchAttributeType.KEYWORD_LIST);
export const ChangeLogPosition = defineSearchAttributeKey('ChangeLogPosition', SearchAttributeType.INT);

/** Name → type, in the `--search-attribute Name=Type` vocabulary of `temporal server start-dev`. */
export const SEARCH_ATTRIBUTES = {
  EntityType: 'Keyword',
  EventKind: 'Keyword',
  ObserverNames: 'KeywordList',
  FailedActions: 'KeywordList',
  ChangeLogPosition: 'Int',
} as const;
