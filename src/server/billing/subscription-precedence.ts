/**
 * Which of an org's subscriptions counts (an org can have several: a lapsed one and its
 * replacement): the newest, expired and failed ones last. The policy reads its plan and status
 * from that one, and usage reporting bills to it — one ORDER BY, so the two never disagree.
 * Unqualified columns of `subscriptions`, for `ORDER BY … LIMIT 1`.
 */
export const SUBSCRIPTION_PRECEDENCE = "(status IN ('expired', 'failed')), updated_at DESC";
