//! Webhook and Slack-compatible deliveries of alert notifications.
